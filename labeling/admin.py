"""The review queue in the admin, read-only: queues, items, leases, labels, gold answers,
sampling rounds and reviewers' settings. Every change to them is a service's (claims,
labels, queue settings) so that it is checked and audited; the admin only looks. A lease
never shows its token: it is the holder's handle on the item."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from supportability.admin import ReadOnlyAdmin

from .models import GoldAnswer, Label, Lease, Queue, ReviewerSettings, ReviewItem, SamplingRound


@admin.register(Queue)
class QueueAdmin(ReadOnlyAdmin):
    list_display = (
        "slug",
        "name",
        "paused",
        "open_to_all",
        "overlap_share",
        "gold_rate",
        "draw_capacity",
        "sla_minutes",
        "created_at",
    )
    list_filter = ("paused", "open_to_all")
    search_fields = ("slug", "name")


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant_external_id",
        "merchant",
        "queue",
        "status",
        "reason",
        "priority",
        "propensity",
        "label_count",
        "required_labels",
        "created_at",
    )
    list_filter = ("status", "reason", "queue", "score_hidden")
    search_fields = ("merchant__external_id", "merchant__name")
    list_select_related = ("merchant", "queue")
    raw_id_fields = ("merchant", "score", "gold", "sampling_round")

    @admin.display(description="merchant id", ordering="merchant__external_id")
    def merchant_external_id(self, item: ReviewItem) -> str:
        return item.merchant.external_id


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "item",
        "merchant_external_id",
        "holder",
        "outcome",
        "claimed_at",
        "expires_at",
        "ended_at",
    )
    list_filter = ("outcome",)
    search_fields = ("item__merchant__external_id", "holder__username")
    list_select_related = ("item", "item__merchant", "holder")
    fields = ("item", "holder", "score", "claimed_at", "expires_at", "ended_at", "outcome")
    raw_id_fields = ("item", "score")

    @admin.display(description="merchant id", ordering="item__merchant__external_id")
    def merchant_external_id(self, lease: Lease) -> str:
        return lease.item.merchant.external_id

    # A lease's own name (Lease.__str__) carries its token: the pages that title a lease
    # by its name get one without it.
    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        lease = context.get("original")
        if isinstance(lease, Lease):
            context["original"] = _Titled(lease, _name(lease))
            context["subtitle"] = _name(lease)
        return super().render_change_form(request, context, *args, **kwargs)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        lease = self.get_object(request, object_id)
        if lease is not None:
            shown = _Titled(lease, _name(lease))
            extra_context = {
                **(extra_context or {}),
                "title": f"Change history: {shown}",
                "object": shown,
            }
        return super().history_view(request, object_id, extra_context)


def _name(lease: Lease) -> str:
    return f"lease {lease.pk} on item {lease.item_id}"


class _Titled:
    """An object that reads as `title`, its attributes its own."""

    def __init__(self, obj: Any, title: str) -> None:
        self._obj = obj
        self._title = title

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)

    def __str__(self) -> str:
        return self._title


@admin.register(Label)
class LabelAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant_external_id",
        "analyst",
        "decision",
        "category",
        "score_seen",
        "score_hidden",
        "seconds_spent",
        "gold_correct",
        "created_at",
    )
    list_filter = ("decision", "score_hidden", "gold_correct", "category")
    search_fields = ("merchant__external_id", "merchant__name", "analyst__username")
    list_select_related = ("merchant", "analyst", "category")
    # Not the lease: its name carries the token.
    exclude = ("lease",)
    raw_id_fields = ("item", "merchant", "model_version_seen")

    @admin.display(description="merchant id", ordering="merchant__external_id")
    def merchant_external_id(self, label: Label) -> str:
        return label.merchant.external_id


@admin.register(GoldAnswer)
class GoldAnswerAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "decision", "category", "created_by", "created_at")
    list_filter = ("decision", "category")
    search_fields = ("merchant__external_id", "merchant__name", "created_by__username")
    list_select_related = ("merchant", "category", "created_by")
    raw_id_fields = ("merchant",)


@admin.register(SamplingRound)
class SamplingRoundAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "queue",
        "model_version",
        "capacity",
        "drawn",
        "new_items",
        "population",
        "population_flagged",
        "bandit",
        "created_by",
        "created_at",
    )
    list_filter = ("queue", "bandit")
    search_fields = ("created_by__username", "model_version__version")
    list_select_related = ("queue", "model_version", "created_by")


@admin.register(ReviewerSettings)
class ReviewerSettingsAdmin(ReadOnlyAdmin):
    list_display = ("user", "shortcuts_enabled", "updated_at")
    list_filter = ("shortcuts_enabled",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
