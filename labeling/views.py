"""The analyst's screen: one page that claims, shows and labels, swapping the item in place
with htmx (the same views answer a plain POST with a full page)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from supportability.access import HtmxHttpRequest, role_required
from supportability.roles import LABELLERS

from . import selectors, services
from .forms import LabelForm, LeaseForm, ReviewerSettingsForm
from .fragments import error_fragment, item_done
from .models import Lease
from .pages.decide import category_suggestions, lease_gone, shortcut_context, undo_offer
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
    score_shown = bool(lease and not lease.item.score_hidden)
    categories = selectors.assignable_categories()
    context = {
        "lease": lease,
        "item": lease.item if lease else None,
        "merchant": lease.item.merchant if lease else None,
        # What the analyst is shown, and what their label records as seen; nothing of the
        # model on items that hide it (the automation-bias control).
        "score": lease.score if lease and score_shown else None,
        "score_hidden": bool(lease and lease.item.score_hidden),
        "categories": categories,
        "suggestions": category_suggestions(
            lease=lease, score_shown=score_shown, categories=categories
        ),
        "undo": undo_offer(user=request.user),
        **shortcut_context(user=request.user),
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
    # An htmx answer is the item plus, out of band, the undo bar beside it (_swap.html).
    template = "labeling/_swap.html" if request.htmx else "labeling/workbench.html"
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
        error = str(exc)
        if isinstance(exc, services.LeaseLost) and kept is None:
            # Usually a second tab: say what happened to this merchant, and where they are.
            token = form.cleaned_data["lease"]
            what = lease_gone(user=request.user, lease_token=token, fallback=error)["what"]
            where = "This tab now shows the merchant you hold." if held else "Nothing was saved."
            error = f"{what} {where}"
        return _render_workspace(request, lease=held, status=409, error=error, form_data=kept)
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
        return _lease_lost(request, "This page lost track of its merchant.", None, status=400)
    token = form.cleaned_data["lease"]
    try:
        services.lease_heartbeat(user=request.user, item_id=item_id, lease_token=token)
    except services.Conflict as exc:
        return _lease_lost(request, str(exc), token, status=409)
    return HttpResponse(status=204)


def _lease_lost(request: HtmxHttpRequest, error: str, token: Any, *, status: int) -> HttpResponse:
    """Usually a second tab: one lease per analyst, and the other tab moved on."""
    context = lease_gone(user=request.user, lease_token=token, fallback=error)
    response = render(request, "labeling/_lease_lost.html", context, status=status)
    return error_fragment(response)


@require_POST
@role_required(*LABELLERS)
def undo(request: HtmxHttpRequest, label_id: int) -> HttpResponse:
    """Take back the label just made: the item comes back on a fresh lease with the
    withdrawn choice filled in, and the next item goes back to the queue."""
    try:
        undone = services.label_undo(user=request.user, label_id=label_id)
    except services.Conflict as exc:
        held = selectors.live_lease_of(user=request.user)
        return _render_workspace(request, lease=held, status=409, error=str(exc))
    if not request.htmx:
        return redirect("labeling:workbench")
    lease = selectors.lease_for_review(lease_id=undone.lease.pk)
    chosen = {
        "decision": undone.decision,
        "category": undone.category_slug,
        "rationale": undone.rationale,
    }
    notice = f"Label on {undone.merchant_name} withdrawn: decide again."
    return _render_workspace(request, lease=lease, form_data=chosen, notice=notice)


@require_http_methods(["GET", "POST"])
@role_required(*LABELLERS)
def reviewer_settings(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's shortcuts: turn single keys off (WCAG 2.1.4) or choose other keys."""
    shortcuts = services.shortcuts_of(request.user)
    errors: dict[str, str] = {}
    values = {f"keymap.{a}": k for a, k in shortcuts.keymap.items()}
    enabled = shortcuts.enabled
    status = 200
    if request.method == "POST":
        form = ReviewerSettingsForm(request.POST, actions=services.ACTIONS)
        if not form.is_valid():
            errors = {field: " ".join(str(m) for m in msgs) for field, msgs in form.errors.items()}
        else:
            enabled = form.cleaned_data["shortcuts_enabled"]
            values.update({f"keymap.{a}": k for a, k in form.keymap().items()})
            try:
                services.reviewer_settings_update(
                    user=request.user, shortcuts_enabled=enabled, keymap=form.keymap()
                )
            except services.InvalidInput as exc:
                errors = {exc.field: exc.message}
            else:
                return redirect(f"{reverse('labeling:settings')}?saved=1")
        status = 400
    rows = [
        {
            "name": f"keymap.{action}",
            "id": f"key-{action}",
            "meaning": meaning,
            "default": default,
            "value": values[f"keymap.{action}"],
            "error": errors.get(f"keymap.{action}", ""),
        }
        for action, (default, meaning) in services.ACTIONS.items()
    ]
    context = {
        "rows": rows,
        "enabled": enabled,
        "errors": errors,
        "saved": request.method == "GET" and request.GET.get("saved") == "1",
    }
    return render(request, "labeling/settings.html", context, status=status)
