"""Reads of the review queue that take more than one query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from supportability.models import PolicyCategory

from .models import Label, Lease, ReviewItem


@dataclass(frozen=True)
class QueueStats:
    queued: int
    leased: int
    done: int
    oldest_queued_seconds: float | None


def queue_stats() -> QueueStats:
    rows = {
        row["status"]: row
        for row in ReviewItem.objects.order_by()
        .values("status")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    }
    oldest = rows.get(ReviewItem.Status.QUEUED, {}).get("oldest")
    return QueueStats(
        queued=rows.get(ReviewItem.Status.QUEUED, {}).get("n", 0),
        leased=rows.get(ReviewItem.Status.LEASED, {}).get("n", 0),
        done=rows.get(ReviewItem.Status.DONE, {}).get("n", 0),
        oldest_queued_seconds=(timezone.now() - oldest).total_seconds() if oldest else None,
    )


def lease_for_review(*, lease_id: int) -> Lease:
    """A lease with everything the review screen shows, in one query."""
    return Lease.objects.select_related(
        "item__merchant",
        "item__score__model_version",
        "item__score__predicted_category",
    ).get(pk=lease_id)


def live_lease_of(*, user: Any) -> Lease | None:
    lease = (
        Lease.objects.select_related(
            "item__merchant",
            "item__score__model_version",
            "item__score__predicted_category",
        )
        .filter(holder=user, outcome=Lease.Outcome.ACTIVE, expires_at__gt=timezone.now())
        .first()
    )
    return lease


def assignable_categories() -> list[PolicyCategory]:
    return list(PolicyCategory.objects.filter(assignable=True).select_related("parent"))


def labels_recent(*, limit: int = 50) -> QuerySet[Label]:
    return Label.objects.select_related(
        "merchant", "analyst", "category", "policy_version"
    ).order_by("-id")[:limit]
