"""Queues: settings per queue, the active-learning mix and rounds (with why each item is
there), gold answers and analysts' gold accuracy."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import services as labeling
from labeling.models import BanditReward, Queue
from labeling.selectors import (
    assignable_categories,
    queue_stats_by_queue,
)
from supportability.access import HtmxHttpRequest, role_required
from supportability.models import Merchant
from supportability.roles import Role

from .. import selectors, services
from ..forms import SLA_UNITS, GoldForm, QueueMixForm, QueueSettingsForm
from ..pages import queues as sampling_pages


@require_GET
@role_required(Role.LEAD)
def queues(request: HtmxHttpRequest) -> HttpResponse:
    return _queues_page(request)


def _queues_page(
    request: HtmxHttpRequest,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    gold_form: GoldForm | None = None,
) -> HttpResponse:
    stats = queue_stats_by_queue()
    return render(
        request,
        "review/queues.html",
        {
            "rows": [(s, sampling_pages.sla_of(s.queue.sla_minutes)) for s in stats if s.queue],
            "sampling": sampling_pages.queues_sampling(),
            "reward_choices": BanditReward.choices,
            "sla_units": list(SLA_UNITS),
            "accuracy": selectors.gold_accuracy(),
            "gold_form": gold_form or GoldForm(),
            "categories": assignable_categories(),
            "errors": errors or {},
        },
        status=status,
    )


@require_POST
@role_required(Role.LEAD)
def queue_settings(request: HtmxHttpRequest, queue_id: int) -> HttpResponse:
    queue = get_object_or_404(Queue, pk=queue_id)
    form = QueueSettingsForm(request.POST)
    if not form.is_valid():
        errors = {f"{queue.slug}.{k}": " ".join(str(m) for m in v) for k, v in form.errors.items()}
        return _queues_page(request, status=400, errors=errors)
    try:
        labeling.queue_update(actor=request.user, queue_id=queue.pk, **form.settings())
    except labeling.InvalidInput as exc:
        field = "sla" if exc.field == "sla_minutes" else exc.field  # the form's name for it
        return _queues_page(request, status=400, errors={f"{queue.slug}.{field}": exc.message})
    messages.success(request, f"Queue {queue.name} saved.")
    return redirect("review:queues")


def _mix_field(slug: str, field: str) -> str:
    """The page's name for a service's field: mix.audit is the form's share_audit."""
    return f"{slug}." + (f"share_{field[4:]}" if field.startswith("mix.") else field)


@require_POST
@role_required(Role.LEAD)
def queue_mix(request: HtmxHttpRequest, queue_id: int) -> HttpResponse:
    """Set a queue's active-learning levers: capacity per round, the strategy mix, the
    bandit and its reward, the audit floor and the share of items shown without a score."""
    queue = get_object_or_404(Queue, pk=queue_id)
    form = QueueMixForm(request.POST)
    if not form.is_valid():
        errors = {f"{queue.slug}.{k}": " ".join(str(m) for m in v) for k, v in form.errors.items()}
        return _queues_page(request, status=400, errors=errors)
    try:
        labeling.queue_update(actor=request.user, queue_id=queue.pk, **form.settings())
    except labeling.InvalidInput as exc:
        return _queues_page(
            request, status=400, errors={_mix_field(queue.slug, exc.field): exc.message}
        )
    messages.success(request, f"Mix for {queue.name} saved; it applies from the next round.")
    return redirect("review:queues")


@require_POST
@role_required(Role.LEAD)
def queue_draw(request: HtmxHttpRequest, queue_id: int) -> HttpResponse:
    """Draw a round now, whatever is waiting."""
    queue = get_object_or_404(Queue, pk=queue_id)
    try:
        drawn = services.queue_draw_now(queue_id=queue.pk, actor=request.user)
    except labeling.InvalidInput as exc:
        return _queues_page(request, status=409, errors={f"{queue.slug}.{exc.field}": exc.message})
    messages.success(
        request,
        f"Round {drawn.pk} drew {drawn.drawn} merchants into {queue.name}:"
        f" {drawn.new_items} new to review, {drawn.drawn - drawn.new_items} already reviewed.",
    )
    return redirect("review:queues")


@require_POST
@role_required(Role.LEAD)
def gold_create(request: HtmxHttpRequest) -> HttpResponse:
    form = GoldForm(request.POST)
    if not form.is_valid():
        return _queues_page(request, status=400, gold_form=form)
    data = form.cleaned_data
    merchant = Merchant.objects.filter(external_id=data["external_id"]).first()
    queue = Queue.objects.filter(slug=data["queue"]).first() if data["queue"] else None
    if data["queue"] and queue is None:
        form.add_error("queue", "No such queue.")
    if merchant is None:
        form.add_error("external_id", "No merchant with this external id.")
        return _queues_page(request, status=400, gold_form=form)
    if form.errors:
        return _queues_page(request, status=400, gold_form=form)
    try:
        labeling.gold_create(
            actor=request.user,
            merchant=merchant,
            queue=queue,
            data=labeling.LabelInput(data["decision"], data["category"], data["rationale"], "gold"),
        )
    except labeling.InvalidInput as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _queues_page(request, status=400, gold_form=form)
    messages.success(request, f"Gold answer set for {merchant.name}.")
    return redirect("review:queues")
