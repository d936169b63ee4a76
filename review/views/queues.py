"""Queues: settings per queue, gold answers and analysts' gold accuracy."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import services as labeling
from labeling.models import Queue
from labeling.selectors import (
    assignable_categories,
    queue_stats_by_queue,
)
from supportability.access import HtmxHttpRequest, role_required
from supportability.models import Merchant
from supportability.roles import Role

from .. import selectors
from ..forms import GoldForm, QueueSettingsForm


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
    return render(
        request,
        "review/queues.html",
        {
            "stats": queue_stats_by_queue(),
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
        labeling.queue_update(actor=request.user, queue_id=queue.pk, **form.cleaned_data)
    except labeling.InvalidInput as exc:
        return _queues_page(request, status=400, errors={f"{queue.slug}.{exc.field}": exc.message})
    messages.success(request, f"Queue {queue.name} saved.")
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
