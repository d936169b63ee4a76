"""The lead's levers on the queues: settings and pause, gold items, and bulk
re-prioritisation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.db import connection, transaction

from supportability.audit import audit_record
from supportability.models import Merchant, ModelVersion, Score

from ..models import GoldAnswer, Queue, ReviewItem
from .errors import InvalidInput, LabelInvalid
from .labels import LabelInput, validate_label

REPRIORITISE_BATCH = 20_000
OPEN = (ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED)


class QueueInvalid(InvalidInput):
    pass


def queue_default() -> Queue:
    queue, _ = Queue.objects.get_or_create(slug=Queue.DEFAULT_SLUG, defaults={"name": "General"})
    return queue


QUEUE_SETTINGS = ("paused", "overlap_share", "overlap_k", "gold_rate")


@transaction.atomic
def queue_update(*, actor: Any, queue_id: int, **changes: Any) -> Queue:
    """Change a queue's pause flag or mix settings (overlap share and k, gold rate)."""
    unknown = set(changes) - set(QUEUE_SETTINGS)
    if unknown:
        raise QueueInvalid(sorted(unknown)[0], "Not a queue setting.")
    if "overlap_share" in changes and not 0 <= changes["overlap_share"] <= 1:
        raise QueueInvalid("overlap_share", "A share between 0 and 1.")
    if "overlap_k" in changes and not 2 <= changes["overlap_k"] <= 5:
        raise QueueInvalid("overlap_k", "Between 2 and 5 independent labels.")
    if "gold_rate" in changes and not 0 <= changes["gold_rate"] <= 0.5:
        raise QueueInvalid("gold_rate", "A rate between 0 and 0.5.")
    queue = Queue.objects.select_for_update().get(pk=queue_id)
    before = {field: getattr(queue, field) for field in changes}
    if before == changes:
        return queue
    for field, value in changes.items():
        setattr(queue, field, value)
    queue.save(update_fields=list(changes))
    audit_record(actor=actor, verb="queue.update", target=queue, before=before, after=changes)
    return queue


@transaction.atomic
def gold_create(
    *, actor: Any, merchant: Merchant, data: LabelInput, queue: Queue | None = None
) -> GoldAnswer:
    """Set the known answer for a merchant. Its review item becomes a gold item: served to
    every analyst once, looking like any other, to measure their accuracy."""
    category = validate_label(data)
    if not data.rationale.strip():
        raise LabelInvalid("rationale", "A gold answer needs a rationale.")
    if GoldAnswer.objects.filter(merchant=merchant).exists():
        raise LabelInvalid("merchant", "This merchant already has a gold answer.")
    item = ReviewItem.objects.select_for_update().filter(merchant=merchant, status__in=OPEN).first()
    if item is not None and item.status == ReviewItem.Status.LEASED:
        raise LabelInvalid("merchant", "An analyst is reviewing this merchant: try again later.")
    answer = GoldAnswer.objects.create(
        merchant=merchant,
        decision=data.decision,
        category=category,
        rationale=data.rationale.strip(),
        created_by=actor,
    )
    if item is None:
        latest = Score.objects.filter(merchant=merchant).order_by("-created_at", "-id").first()
        item = ReviewItem(
            merchant=merchant,
            queue=queue or queue_default(),
            score=latest,
            reason=ReviewItem.Reason.FLAGGED,
            priority=latest.probability if latest else 0.0,
            propensity=1.0,
        )
    item.gold = answer
    item.save()
    audit_record(
        actor=actor,
        verb="gold.create",
        target=answer,
        merchant_id=merchant.pk,
        after={"decision": data.decision, "category": category.slug, "item": item.pk},
    )
    return answer


def _batches(rows: Iterable[tuple[int, float, int | None]], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def items_reprioritise(
    *, rows: Iterable[tuple[int, float, int | None]], batch_size: int = REPRIORITISE_BATCH
) -> int:
    """Set new priorities (and scores) on open items: rows of (item id, priority, score id
    or None to keep). Set-based, in batches that each commit, so row locks are held for a
    batch only and analysts keep claiming meanwhile (claims skip the rows being updated).
    PostgreSQL: COPY each batch into a temporary table and UPDATE ... FROM it. SQLite: one
    bulk UPDATE per batch."""
    updated = 0
    for batch in _batches(rows, batch_size):
        with transaction.atomic():
            if connection.vendor == "postgresql":
                updated += _copy_update(batch)
            else:
                items = [ReviewItem(pk=i, priority=p, score_id=s) for i, p, s in batch if s]
                items += [ReviewItem(pk=i, priority=p) for i, p, s in batch if not s]
                updated += ReviewItem.objects.filter(
                    pk__in=[i.pk for i in items], status__in=OPEN
                ).count()
                with_score = [item for item in items if item.score_id]
                ReviewItem.objects.bulk_update(with_score, ["priority", "score_id"], 500)
                ReviewItem.objects.bulk_update(
                    [item for item in items if not item.score_id], ["priority"], 500
                )
    return updated


def _copy_update(batch: list[tuple[int, float, int | None]]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE reprioritise (id bigint, priority float8, score_id bigint)"
            " ON COMMIT DROP"
        )
        with cursor.copy("COPY reprioritise (id, priority, score_id) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
        cursor.execute(
            "UPDATE labeling_reviewitem AS i"
            " SET priority = r.priority, score_id = COALESCE(r.score_id, i.score_id)"
            " FROM reprioritise AS r"
            " WHERE i.id = r.id AND i.status IN ('queued', 'leased')"
        )
        return cursor.rowcount


def _scored_open_items(model_version: ModelVersion, batch_size: int) -> Iterator[Any]:
    """(item id, new priority, score id) for every open, non-gold item the model scored,
    read in keyset pages by item id so that memory stays flat at any queue size."""
    last = 0
    while True:
        page = list(
            Score.objects.filter(
                model_version=model_version,
                merchant__review_items__status__in=OPEN,
                merchant__review_items__gold__isnull=True,
                merchant__review_items__id__gt=last,
            )
            .order_by("merchant__review_items__id")
            .values_list("merchant__review_items__id", "probability", "id")[:batch_size]
        )
        if not page:
            return
        last = page[-1][0]
        # Priority is the calibrated risk for now; the strategy mix (risk times exposure,
        # uncertainty, diversity) is the active-learning issue's.
        yield from page


def queue_reprioritise(
    *, model_version: ModelVersion, actor: Any = None, batch_size: int = REPRIORITISE_BATCH
) -> int:
    """Re-rank every open item by a new model's scores, in bulk."""
    updated = items_reprioritise(
        rows=_scored_open_items(model_version, batch_size), batch_size=batch_size
    )
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="queue.reprioritise",
            target=model_version,
            after={"items": updated, "model": str(model_version)},
        )
    return updated
