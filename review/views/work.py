"""The lead's work: claim the next escalation, sign-off or audit, decide it with the
keyboard, and move on; reopen a final adjudication; set the review rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from labeling import services as labeling
from labeling.fragments import error_fragment, item_done
from labeling.selectors import assignable_categories
from supportability.access import HtmxHttpRequest, role_required
from supportability.roles import Role

from .. import selectors, services
from ..forms import (
    AdjudicationForm,
    AuditForm,
    ClaimForm,
    ReopenForm,
    ReviewSettingsForm,
    SignoffForm,
)
from ..services import Work

WORK_VERBS = {Work.ADJUDICATE: "adjudicate", Work.SIGNOFF: "sign off", Work.AUDIT: "audit"}


@dataclass(frozen=True)
class Shortcut:
    keys: tuple[str, ...]  # as printed on the keys
    words: str
    joiner: str = "/"  # between the keys: "/" either, "+" together, an en dash a range


# The keys static/js/lead.js handles on each kind of item, as the screen's legend lists
# them (tests/review/test_work_views.py holds the legend and the script together).
_COMMON = (
    Shortcut(("K",), "release"),
    Shortcut(("Ctrl", "Enter"), "submit", "+"),
    Shortcut(("Esc",), "leave a field"),
)
SHORTCUTS: dict[str, tuple[Shortcut, ...]] = {
    Work.ADJUDICATE: (
        Shortcut(("1", "9"), "uphold that label", "\u2013"),
        Shortcut(("S", "R", "P"), "decision"),
        Shortcut(("C",), "category"),
        Shortcut(("W",), "write rationale"),
        Shortcut(("T",), "not for training"),
        *_COMMON,
    ),
    Work.SIGNOFF: (
        Shortcut(("A",), "approve"),
        Shortcut(("X",), "refuse"),
        Shortcut(("W",), "write note"),
        *_COMMON,
    ),
    Work.AUDIT: (
        Shortcut(("A",), "agree"),
        Shortcut(("O",), "overturn"),
        Shortcut(("S", "R", "P"), "overturn with a decision"),
        Shortcut(("C",), "category"),
        Shortcut(("W",), "write rationale"),
        *_COMMON,
    ),
}


def _settings_form(data: Any = None) -> ReviewSettingsForm:
    categories = [(c.slug, c.name) for c in assignable_categories() if c.slug != "none"]
    if data is None:
        rules = selectors.review_rules()
        data = {
            "audit_rate": rules.audit_rate,
            "audit_floor": rules.audit_floor,
            "audit_cap": rules.audit_cap,
            "four_eyes": sorted(rules.four_eyes),
            "retrain_min_new_labels": rules.retrain_min_new_labels,
            "retrain_min_agreement": rules.retrain_min_agreement,
        }
    return ReviewSettingsForm(data, categories=categories)


def _work_page(
    request: HtmxHttpRequest, *, status: int = 200, settings_form: ReviewSettingsForm | None = None
) -> HttpResponse:
    return render(
        request,
        "review/work.html",
        {
            "counts": services.lead_work_counts(request.user),
            "held": selectors.held_lead_lease(user=request.user),
            "recent": selectors.adjudications_recent(),
            "settings_form": settings_form or _settings_form(),
        },
        status=status,
    )


@require_GET
@role_required(Role.LEAD)
def work(request: HtmxHttpRequest) -> HttpResponse:
    return _work_page(request)


def _go(request: HtmxHttpRequest, to: str, **kwargs: Any) -> HttpResponse:
    """Load another page: a redirect, or for an htmx request (the item screen's forms) an
    HX-Redirect, since the XHR would follow a redirect and swap the page into the form."""
    url = resolve_url(to, **kwargs)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _next(request: HtmxHttpRequest, work: Work, *, done: str = "") -> HttpResponse:
    """Claim the next item of this kind and open it; back to the work page when none."""
    try:
        lease = services.lead_claim(user=request.user, work=work)
    except services.Conflict as exc:
        messages.error(request, str(exc))
        return _go(request, "review:work")
    if done:
        messages.success(request, done)
    if lease is None:
        messages.info(request, f"Nothing left to {WORK_VERBS[work]} for you.")
        return _go(request, "review:work")
    return _go(request, "review:item", item_id=lease.item_id)


@require_POST
@role_required(Role.LEAD)
def claim(request: HtmxHttpRequest) -> HttpResponse:
    form = ClaimForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose adjudicate, signoff or audit.")
        return _work_page(request, status=400)
    return _next(request, Work(form.cleaned_data["work"]))


def _screen(
    request: HtmxHttpRequest,
    item_id: int,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    error: str = "",
) -> HttpResponse:
    held = selectors.held_lead_lease(user=request.user)
    if held is None or held.item_id != item_id:
        if request.method == "POST":
            # The lease ran out or went to someone else mid-decision: say so, and give the
            # lead back what they typed rather than losing it in a redirect.
            response = render(
                request,
                "review/_lease_lost.html" if request.htmx else "review/lease_lost.html",
                {"error": error or "Your lease on this item has ended.", "typed": typed or {}},
                status=409,
            )
            return error_fragment(response)
        messages.error(request, "You do not hold this item: claim it from your work list.")
        return redirect("review:work")
    view = selectors.lead_item(lease_id=held.pk)
    work = services.work_of(held)
    # An htmx submit the server refused gets the form back alone, with the errors.
    response = render(
        request,
        "review/_decide.html" if request.htmx else "review/item.html",
        {
            "view": view,
            "work": str(work) if work else "",
            "merchant": view.item.merchant,
            "score": view.lease.score,
            "categories": assignable_categories(),
            "errors": errors or {},
            "typed": typed or {},
            "error": error,
            "shortcuts": SHORTCUTS.get(str(work), ()) if work else (),
            "heartbeat_seconds": max(5, settings.LEASE_SECONDS // 5),
        },
        status=status,
    )
    return error_fragment(response)


@require_GET
@role_required(Role.LEAD)
def item(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _screen(request, item_id)


def _form_errors(form: Any) -> dict[str, str]:
    return {field: " ".join(str(m) for m in msgs) for field, msgs in form.errors.items()}


def _decide(
    request: HtmxHttpRequest,
    item_id: int,
    form_class: type[forms.Form],
    work: Work,
    act: Callable[[dict[str, Any]], Any],
    done: Callable[[Any], str],
) -> HttpResponse:
    """The decision screens' one shape: parse, call the service, answer its refusals with
    the screen (400 naming the field, 403, 409), or move on to the next item."""
    form = form_class(request.POST)
    typed = request.POST.dict()
    if not form.is_valid():
        return _screen(request, item_id, status=400, errors=_form_errors(form), typed=typed)
    try:
        result = act(form.cleaned_data)
    except services.InvalidInput as exc:
        return _screen(request, item_id, status=400, errors={exc.field: exc.message}, typed=typed)
    except services.NotAllowed as exc:
        return _screen(request, item_id, status=403, error=str(exc), typed=typed)
    except services.Conflict as exc:
        return _screen(request, item_id, status=409, error=str(exc), typed=typed)
    return item_done(_next(request, work, done=done(result)))


def _adjudicated(done: Any) -> str:
    note = " — awaiting a second lead's sign-off" if done.requires_signoff else ""
    return f"Adjudicated {done.merchant.name}: {done.decision}{note}."


@require_POST
@role_required(Role.LEAD)
def adjudicate(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _decide(
        request,
        item_id,
        AdjudicationForm,
        Work.ADJUDICATE,
        lambda data: services.adjudication_submit(
            user=request.user,
            item_id=item_id,
            lease_token=data["lease"],
            data=services.Decided(data["decision"], data["category"], data["rationale"]),
            upheld_label_id=data["upheld_label"],
            for_training=not data["not_for_training"],
            training_note=data["training_note"],
        ),
        _adjudicated,
    )


@require_POST
@role_required(Role.LEAD)
def signoff(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _decide(
        request,
        item_id,
        SignoffForm,
        Work.SIGNOFF,
        lambda data: services.adjudication_signoff(
            user=request.user,
            item_id=item_id,
            lease_token=data["lease"],
            approve=data["verdict"] == "approve",
            note=data["note"],
        ),
        lambda done: (
            f"{'Signed off' if done.status == 'final' else 'Refused'}: {done.merchant.name}."
        ),
    )


@require_POST
@role_required(Role.LEAD)
def audit(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    return _decide(
        request,
        item_id,
        AuditForm,
        Work.AUDIT,
        lambda data: services.qa_audit_record(
            user=request.user,
            item_id=item_id,
            lease_token=data["lease"],
            agree=data["verdict"] == "agree",
            rationale=data["rationale"],
            decision=data["decision"],
            category_slug=data["category"],
        ),
        lambda done: f"Audit recorded: {done.get_status_display()}.",
    )


@require_POST
@role_required(Role.LEAD)
def release(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    held = selectors.held_lead_lease(user=request.user)
    if held is None or held.item_id != item_id:
        messages.error(request, "You do not hold this item.")
        return _go(request, "review:work")
    try:
        services.lead_release(user=request.user, item_id=item_id, lease_token=held.token)
    except services.Conflict as exc:  # it lapsed between the read and the release
        messages.error(request, str(exc))
        return _go(request, "review:work") if request.htmx else _work_page(request, status=409)
    # Back to the list, not to the next claim: that would hand the same item straight back.
    messages.info(request, "Released: it stays in the queue for another lead.")
    return item_done(_go(request, "review:work"))


@require_POST
@role_required(Role.LEAD)
def heartbeat(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    held = selectors.held_lead_lease(user=request.user)
    if held is None or held.item_id != item_id:
        return _lease_ended(request, "Your lease has ended.")
    try:
        labeling.lease_heartbeat(user=request.user, item_id=item_id, lease_token=held.token)
    except labeling.Conflict as exc:
        return _lease_ended(request, str(exc))
    return HttpResponse(status=204)


def _lease_ended(request: HtmxHttpRequest, error: str) -> HttpResponse:
    response = render(request, "labeling/_lease_lost.html", {"error": error}, status=409)
    return error_fragment(response)


@require_POST
@role_required(Role.LEAD)
def reopen(request: HtmxHttpRequest, adjudication_id: int) -> HttpResponse:
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "reason: say why this adjudication is reopened.")
        return _work_page(request, status=400)
    try:
        reopened = services.adjudication_reopen(
            user=request.user, adjudication_id=adjudication_id, reason=form.cleaned_data["reason"]
        )
    except services.InvalidInput as exc:
        messages.error(request, f"{exc.field}: {exc.message}")
        return _work_page(request, status=400)
    except services.Conflict as exc:
        messages.error(request, str(exc))
        return _work_page(request, status=409)
    messages.success(request, "Reopened: the item is back in the adjudication queue.")
    return redirect("review:merchant", merchant_id=reopened.merchant_id)


@require_POST
@role_required(Role.LEAD)
def rules(request: HtmxHttpRequest) -> HttpResponse:
    form = _settings_form(request.POST)
    if not form.is_valid():
        return _work_page(request, status=400, settings_form=form)
    try:
        services.review_settings_update(actor=request.user, **form.cleaned_data)
    except services.InvalidInput as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _work_page(request, status=400, settings_form=form)
    messages.success(request, "Review rules saved.")
    return redirect("review:work")
