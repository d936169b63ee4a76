"""The lead's overview (review.pages.overview): queues and SLAs, throughput, agreement and
gold accuracy, models and the retraining chain, estimates of what is true, the latest
events in words; recent labels on demand; starting and retrying a retraining."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling.fragments import error_fragment
from labeling.selectors import labels_recent
from supportability.access import HtmxHttpRequest, role_required
from supportability.models import TrainingRun
from supportability.roles import Role

from .. import selectors, services
from ..pages.estimates import automation_bias, estimates_cached
from ..pages.overview import models_recent, overview


@require_GET
@role_required(Role.LEAD)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    page = overview()
    return render(
        request,
        "review/dashboard.html",
        {
            "page": page,
            "run": page.chain.run,
            "run_state": page.chain.state,
            "models": page.models,
            "estimates": (estimates := estimates_cached()),
            "category_rows": [row for row in estimates.rows if row.kind == "category"],
            "bias": automation_bias(),
        },
    )


@require_GET
@role_required(Role.LEAD)
def labels(request: HtmxHttpRequest) -> HttpResponse:
    """The live table of recent labels (polled by the dashboard)."""
    return render(request, "review/_labels.html", {"labels": labels_recent()})


def _run_panel(
    request: HtmxHttpRequest, run: TrainingRun | None, *, error: str = "", status: int = 200
) -> HttpResponse:
    """The model panel: the latest retraining (polling while it runs) and the versions."""
    context = {
        "run": run,
        "run_state": selectors.run_state(run),
        "models": models_recent(),
        "error": error,
    }
    return error_fragment(render(request, "review/_run.html", context, status=status))


def _start(request: HtmxHttpRequest, start: Callable[[], TrainingRun]) -> HttpResponse:
    """Start (or restart) a retraining and answer with the run panel, or the refusal."""
    try:
        run = start()
    except services.Conflict as exc:  # RetrainBusy, or a run that cannot be retried
        if request.htmx:
            return _run_panel(request, selectors.run_latest(), error=str(exc), status=409)
        messages.error(request, str(exc))
        return redirect("review:dashboard")
    if request.htmx:
        return _run_panel(request, run)
    return redirect("review:dashboard")


@require_POST
@role_required(Role.LEAD)
def retrain(request: HtmxHttpRequest) -> HttpResponse:
    return _start(request, lambda: services.retrain_start(actor=request.user))


@require_POST
@role_required(Role.LEAD)
def retry(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """A lead retries a failed retraining: it resumes at the step it stopped at."""
    get_object_or_404(TrainingRun, pk=run_id)
    return _start(request, lambda: services.retrain_retry(actor=request.user, run_id=run_id))


@require_GET
@role_required(Role.LEAD)
def run_status(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("model_version"), pk=run_id)
    return _run_panel(request, run)
