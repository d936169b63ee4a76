"""Queue SLA: an item that waits past its queue's target for its first analyst is moved
ahead of the queue once. Beat runs `sla_breaches_raise` every minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone

from supportability.audit import audit_event, audit_record_many
from supportability.validation import MAX_PRIORITY

from ..models import Queue, ReviewItem

# Added to a breached item's priority: past every priority the queue otherwise gives
# (flagged items rank by a probability in [0, 1], sampled ones below 1), so breached items
# come first, in their old order among themselves.
SLA_BOOST = 1_000_000.0
# Items raised per queue per run; the next run takes the rest (keeps the audit event and
# the lock short).
BATCH = 5_000


@transaction.atomic
def sla_breaches_raise(*, now: datetime | None = None) -> int:
    """Raise the priority of every queued item older than its queue's SLA, once: the item
    is marked (sla_breached_at), so a second run leaves it alone. One bulk UPDATE and one
    audit event (the count and the item ids) per queue that had breaches. Returns how many
    items were raised. Gold items are never work waiting, leased ones are being worked."""
    now = now or timezone.now()
    events = []
    raised = 0
    for queue in Queue.objects.order_by("pk"):
        cutoff = now - timedelta(minutes=queue.sla_minutes)
        waiting = ReviewItem.objects.filter(
            queue=queue,
            status=ReviewItem.Status.QUEUED,
            gold__isnull=True,
            sla_breached_at__isnull=True,
            queued_at__lt=cutoff,
        )
        # Rows a claim holds at this instant are skipped: they are leaving the queue.
        ids = list(
            waiting.select_for_update(skip_locked=True)
            .order_by("queued_at", "id")
            .values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            continue
        ReviewItem.objects.filter(pk__in=ids).update(
            priority=Least(F("priority") + SLA_BOOST, Value(MAX_PRIORITY)),
            sla_breached_at=now,
            updated_at=now,
        )
        raised += len(ids)
        events.append(
            audit_event(
                actor=None,
                verb="queue.sla_breach",
                target=queue,
                before={"sla_minutes": queue.sla_minutes},
                after={"raised": len(ids), "items": ids, "priority_boost": SLA_BOOST},
            )
        )
    audit_record_many(events)
    return raised
