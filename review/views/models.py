"""Model versions: the registry, one version's evaluation against the champion, and a
lead's promotion or rejection of a candidate."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from supportability.access import HtmxHttpRequest, role_required
from supportability.roles import Role

from .. import services
from ..pages import models as model_pages


@require_GET
@role_required(Role.LEAD)
def models(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "review/models.html", {"rows": model_pages.model_registry()})


@require_GET
@role_required(Role.LEAD)
def model(request: HtmxHttpRequest, model_id: int) -> HttpResponse:
    return _model_page(request, model_id)


def _model_page(
    request: HtmxHttpRequest,
    model_id: int,
    *,
    status: int = 200,
    error: str = "",
    errors: dict[str, str] | None = None,
    reason: str = "",
) -> HttpResponse:
    page = model_pages.model_page(model_id=model_id)
    if page is None:
        raise Http404("No such model version.")
    context = {"page": page, "error": error, "errors": errors or {}, "reason": reason}
    return render(request, "review/model.html", context, status=status)


@require_POST
@role_required(Role.LEAD)
def promote(request: HtmxHttpRequest, model_id: int) -> HttpResponse:
    get_object_or_404(model_pages.versions(), pk=model_id)
    try:
        run = services.candidate_promote(actor=request.user, model_version_id=model_id)
    except services.RetrainBusy as exc:
        return _model_page(request, model_id, status=409, error=str(exc))
    except ValueError as exc:  # not a candidate (any more)
        return _model_page(request, model_id, status=409, error=str(exc))
    messages.success(request, f"Promoting {run.model_version}: rescoring, then promotion.")
    return redirect("review:dashboard")


@require_POST
@role_required(Role.LEAD)
def reject(request: HtmxHttpRequest, model_id: int) -> HttpResponse:
    get_object_or_404(model_pages.versions(), pk=model_id)
    reason = request.POST.get("reason", "")
    try:
        rejected = services.candidate_reject(
            actor=request.user, model_version_id=model_id, reason=reason
        )
    except services.InvalidInput as exc:
        errors = {exc.field: exc.message}
        return _model_page(request, model_id, status=400, errors=errors, reason=reason)
    except ValueError as exc:  # not a candidate (any more)
        return _model_page(request, model_id, status=409, error=str(exc), reason=reason)
    messages.success(request, f"{rejected} rejected.")
    return redirect("review:model", model_id=model_id)
