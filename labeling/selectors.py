"""Reads of the review queue that take more than one query."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from typing import Any

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from supportability.models import PolicyCategory, PolicyVersion
from supportability.roles import user_roles

from .models import Label, Lease, Queue, ReviewItem


def queues_open_to(user: Any) -> list[Queue]:
    """The unpaused queues `user` may claim from: open ones and those they are a member of,
    less any that need a role they lack."""
    roles = user_roles(user)
    queues = Queue.objects.filter(paused=False).filter(Q(open_to_all=True) | Q(members=user))
    return [q for q in queues.distinct() if not q.required_role or q.required_role in roles]


@dataclass(frozen=True)
class QueueStats:
    queue: Queue | None  # None: all queues together
    queued: int
    leased: int
    escalated: int
    done: int
    oldest_queued_seconds: float | None
    # The queue's SLA target (None for all queues together, whose targets differ) and how
    # many queued items have waited past it.
    sla_minutes: int | None = None
    breached: int = 0


def queue_stats_by_queue() -> list[QueueStats]:
    """Counts per status, the age of the oldest waiting item and the items past the SLA,
    per queue, in one query (plus one for the queues). Gold items are not work waiting, so
    they are left out."""
    now = timezone.now()
    queues = list(Queue.objects.all())
    # Each queue has its own target: one condition per queue, in the same grouped query.
    past_target = Q(queued_at__lt=now)  # every item, until a queue narrows it
    if queues:
        past_target = reduce(
            operator.or_,
            (
                Q(queue_id=q.pk, queued_at__lt=now - timedelta(minutes=q.sla_minutes))
                for q in queues
            ),
        )
    rows: dict[int, dict[str, Any]] = {}
    for row in (
        ReviewItem.objects.filter(gold__isnull=True)
        .order_by()
        .values("queue_id", "status")
        .annotate(n=Count("id"), oldest=Min("queued_at"), breached=Count("id", filter=past_target))
    ):
        rows.setdefault(row["queue_id"], {})[row["status"]] = row
    stats = []
    for queue in queues:
        by_status = rows.get(queue.pk, {})
        oldest = by_status.get(ReviewItem.Status.QUEUED, {}).get("oldest")
        stats.append(
            QueueStats(
                queue=queue,
                queued=by_status.get(ReviewItem.Status.QUEUED, {}).get("n", 0),
                leased=by_status.get(ReviewItem.Status.LEASED, {}).get("n", 0),
                # With the leads: to adjudicate, or awaiting a second lead's sign-off.
                escalated=sum(
                    by_status.get(status, {}).get("n", 0)
                    for status in (ReviewItem.Status.ESCALATED, ReviewItem.Status.SIGNOFF)
                ),
                done=by_status.get(ReviewItem.Status.DONE, {}).get("n", 0),
                oldest_queued_seconds=(now - oldest).total_seconds() if oldest else None,
                sla_minutes=queue.sla_minutes,
                breached=by_status.get(ReviewItem.Status.QUEUED, {}).get("breached", 0),
            )
        )
    return stats


def queue_stats() -> QueueStats:
    per_queue = queue_stats_by_queue()
    ages = [s.oldest_queued_seconds for s in per_queue if s.oldest_queued_seconds is not None]
    return QueueStats(
        queue=None,
        queued=sum(s.queued for s in per_queue),
        leased=sum(s.leased for s in per_queue),
        escalated=sum(s.escalated for s in per_queue),
        done=sum(s.done for s in per_queue),
        oldest_queued_seconds=max(ages) if ages else None,
        breached=sum(s.breached for s in per_queue),
    )


REVIEW_RELATED = (
    "item__merchant",
    "item__queue",
    "score__model_version",
    "score__predicted_category",
)


def lease_for_review(*, lease_id: int) -> Lease:
    """A lease with everything the review screen shows, in one query."""
    return Lease.objects.select_related(*REVIEW_RELATED).get(pk=lease_id)


def live_lease_of(*, user: Any) -> Lease | None:
    return (
        Lease.objects.select_related(*REVIEW_RELATED)
        .filter(
            holder=user,
            outcome=Lease.Outcome.ACTIVE,
            expires_at__gt=timezone.now(),
            item__status=ReviewItem.Status.LEASED,
        )
        .first()
    )


def assignable_categories() -> list[PolicyCategory]:
    return list(PolicyCategory.objects.filter(assignable=True).select_related("parent"))


def labels_recent(*, limit: int = 50) -> QuerySet[Label]:
    return Label.objects.select_related(
        "merchant", "analyst", "category", "policy_version"
    ).order_by("-id")[:limit]


def queued_waiting(*, queue: Queue) -> int:
    """Items waiting for an analyst in the queue (gold items are not work waiting)."""
    return ReviewItem.objects.filter(
        queue=queue, status=ReviewItem.Status.QUEUED, gold__isnull=True
    ).count()


OPEN_STATUSES = (
    ReviewItem.Status.QUEUED,
    ReviewItem.Status.LEASED,
    ReviewItem.Status.ESCALATED,
    ReviewItem.Status.SIGNOFF,
)


def merchant_open_items(
    *, merchant_id: int, exclude_item_id: int, limit: int = 10
) -> list[ReviewItem]:
    """The merchant's other items still in progress (with analysts or leads), newest
    first, with their queue: statuses only, never their labels (blind labelling)."""
    return list(
        ReviewItem.objects.filter(merchant_id=merchant_id, status__in=OPEN_STATUSES)
        .exclude(pk=exclude_item_id)
        .select_related("queue")
        .only(
            "pk", "status", "reason", "created_at", "required_labels", "label_count", "queue__name"
        )
        .order_by("-created_at", "-id")[:limit]
    )


def policy_current() -> PolicyVersion | None:
    return PolicyVersion.objects.filter(is_current=True).first()
