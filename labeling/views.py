"""The analyst's screen: one page that claims, shows and labels, swapping the item in place
with htmx (the same views answer a plain POST with a full page)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from supportability.access import HtmxHttpRequest, role_required
from supportability.roles import LABELLERS

from . import selectors, services
from .forms import LabelForm, LeaseForm
from .fragments import error_fragment, item_done
from .models import Lease
from .pages.evidence import evidence


def _render_workspace(
    request: HtmxHttpRequest,
    *,
    lease: Lease | None,
    status: int = 200,
    form_errors: dict[str, str] | None = None,
    form_data: dict[str, Any] | None = None,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    context = {
        "lease": lease,
        "item": lease.item if lease else None,
        "merchant": lease.item.merchant if lease else None,
        # What the analyst is shown, and what their label records as seen; nothing of the
        # model on items that hide it (the automation-bias control).
        "score": lease.score if lease and not lease.item.score_hidden else None,
        "score_hidden": bool(lease and lease.item.score_hidden),
        "categories": selectors.assignable_categories(),
        "form_errors": form_errors or {},
        "form_data": form_data or {},
        "idempotency_key": uuid.uuid4().hex,
        "notice": notice,
        "error": error,
        "stats": selectors.queue_stats(),
        # Well inside the lease, so one lost heartbeat does not lose the item.
        "heartbeat_seconds": max(5, settings.LEASE_SECONDS // 5),
        **evidence(lease=lease, user=request.user),
    }
    template = "labeling/_item.html" if request.htmx else "labeling/workbench.html"
    return error_fragment(render(request, template, context, status=status))


def _claim_next(request: HtmxHttpRequest) -> Lease | None:
    lease = services.item_claim(user=request.user, queue=request.POST.get("queue") or None)
    return selectors.lease_for_review(lease_id=lease.pk) if lease else None


@require_GET
@role_required(*LABELLERS)
def workbench(request: HtmxHttpRequest) -> HttpResponse:
    return _render_workspace(request, lease=selectors.live_lease_of(user=request.user))


@require_POST
@role_required(*LABELLERS)
def claim(request: HtmxHttpRequest) -> HttpResponse:
    try:
        lease = _claim_next(request)
    except services.Conflict as exc:
        # A lead holding an adjudication: one item at a time, whichever screen.
        return _render_workspace(request, lease=None, status=409, error=str(exc))
    if not request.htmx:
        return redirect("labeling:workbench")
    return _render_workspace(request, lease=lease, notice="" if lease else "The queue is empty.")


@require_POST
@role_required(*LABELLERS)
def label(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    form = LabelForm(request.POST)
    held = selectors.live_lease_of(user=request.user)
    typed = request.POST.dict()
    if not form.is_valid():
        errors = {field: " ".join(str(m) for m in msgs) for field, msgs in form.errors.items()}
        return _render_workspace(
            request, lease=held, status=400, form_errors=errors, form_data=typed
        )
    data = services.LabelInput(
        decision=form.cleaned_data["decision"],
        category_slug=form.cleaned_data["category"],
        rationale=form.cleaned_data["rationale"],
        idempotency_key=form.cleaned_data["idempotency_key"],
    )
    try:
        saved, _ = services.label_submit(
            user=request.user, item_id=item_id, lease_token=form.cleaned_data["lease"], data=data
        )
    except services.InvalidInput as exc:
        return _render_workspace(
            request, lease=held, status=400, form_errors={exc.field: exc.message}, form_data=typed
        )
    except services.Conflict as exc:
        # Keep what they typed if they still hold this item (e.g. a key reused by mistake).
        kept = typed if held is not None and held.item_id == item_id else None
        return _render_workspace(request, lease=held, status=409, error=str(exc), form_data=kept)
    notice = f"Labelled {saved.merchant.name} as {saved.decision} ({saved.category.name})."
    if not request.htmx:
        return redirect("labeling:workbench")
    return item_done(_render_workspace(request, lease=_claim_next(request), notice=notice))


@require_POST
@role_required(*LABELLERS)
def release(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    form = LeaseForm(request.POST)
    held = selectors.live_lease_of(user=request.user)
    if not form.is_valid():
        return _render_workspace(request, lease=held, status=400, error="The lease is missing.")
    try:
        services.lease_release(
            user=request.user, item_id=item_id, lease_token=form.cleaned_data["lease"]
        )
    except services.Conflict as exc:
        return _render_workspace(request, lease=held, status=409, error=str(exc))
    if not request.htmx:
        return redirect("labeling:workbench")
    # Claim the next one; the skipped item is back in the queue for a colleague.
    return item_done(_render_workspace(request, lease=_claim_next(request), notice="Skipped."))


@require_POST
@role_required(*LABELLERS)
def heartbeat(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Keep the lease alive while the screen is open. 204 when extended; 409 with a warning
    fragment when the lease is gone (the analyst should reload before typing more)."""
    form = LeaseForm(request.POST)
    if not form.is_valid():
        return _lease_lost(request, "Lease missing.", status=400)
    try:
        services.lease_heartbeat(
            user=request.user, item_id=item_id, lease_token=form.cleaned_data["lease"]
        )
    except services.Conflict as exc:
        return _lease_lost(request, str(exc), status=409)
    return HttpResponse(status=204)


def _lease_lost(request: HtmxHttpRequest, error: str, *, status: int) -> HttpResponse:
    response = render(request, "labeling/_lease_lost.html", {"error": error}, status=status)
    return error_fragment(response)
