"""The lead's levers on the queues: settings and pause, gold items, and bulk
re-prioritisation."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min

from supportability.audit import audit_record
from supportability.models import Merchant, ModelVersion, Score

from ..models import BanditReward, GoldAnswer, Queue, ReviewItem
from ..strategies import STRATEGIES
from .errors import InvalidInput, LabelInvalid
from .labels import LabelInput, validate_label
from .sla import SLA_BOOST

REPRIORITISE_BATCH = 20_000
RESCORE_CONNECTIONS = 2
OPEN = (ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED)


class QueueInvalid(InvalidInput):
    pass


def queue_default() -> Queue:
    # The general queue draws active-learning rounds (the migration set the same on
    # databases that had it already).
    queue, _ = Queue.objects.get_or_create(
        slug=Queue.DEFAULT_SLUG,
        defaults={"name": "General", "draw_capacity": DEFAULT_DRAW_CAPACITY},
    )
    return queue


QUEUE_SETTINGS = (
    "paused",
    "overlap_share",
    "overlap_k",
    "gold_rate",
    "draw_capacity",
    "mix",
    "bandit",
    "bandit_reward",
    "audit_floor",
    "hide_score_share",
    "rereview_share",
    "sla_minutes",
)
# A queue's SLA target: how long an item may wait for its first analyst (the model's
# CHECK constraint holds the same bounds).
MIN_SLA_MINUTES = 5
MAX_SLA_MINUTES = 30 * 24 * 60
DEFAULT_DRAW_CAPACITY = 100  # the general queue's reviews per active-learning round
MAX_DRAW_CAPACITY = 10_000
# Below this, merchants the model calls safe have π so small (1e-6 at a million merchants)
# that recall's interval says nothing.
MIN_AUDIT_SHARE = 0.01


def _check_mix(mix: Any) -> dict[str, float]:
    """Shares of capacity per strategy: non-negative, some capacity, and some for the audit
    stratum, without which merchants the model calls safe would have no chance of review
    (π = 0) and recall could not be measured."""
    if not isinstance(mix, dict):
        raise QueueInvalid("mix", "Shares per strategy.")
    unknown = set(mix) - set(STRATEGIES)
    if unknown:
        raise QueueInvalid(f"mix.{sorted(unknown)[0]}", "Not a strategy.")
    shares = {}
    for name in STRATEGIES:
        value = mix.get(name, 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise QueueInvalid(f"mix.{name}", "A share between 0 and 1.")
        shares[name] = float(value)
    if shares["audit"] < MIN_AUDIT_SHARE:
        raise QueueInvalid(
            "mix.audit", f"The audit stratum needs at least {MIN_AUDIT_SHARE:.0%} of a round."
        )
    if abs(sum(shares.values()) - 1) > 0.011:
        raise QueueInvalid("mix", f"The shares add up to {sum(shares.values()):.2f}, not 1.")
    total = sum(shares.values())
    return {name: value / total for name, value in shares.items()}


def _check_settings(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(QUEUE_SETTINGS)
    if unknown:
        raise QueueInvalid(sorted(unknown)[0], "Not a queue setting.")
    if "overlap_share" in changes and not 0 <= changes["overlap_share"] <= 1:
        raise QueueInvalid("overlap_share", "A share between 0 and 1.")
    if "overlap_k" in changes and not 2 <= changes["overlap_k"] <= 5:
        raise QueueInvalid("overlap_k", "Between 2 and 5 independent labels.")
    if "gold_rate" in changes and not 0 <= changes["gold_rate"] <= 0.5:
        raise QueueInvalid("gold_rate", "A rate between 0 and 0.5.")
    if "draw_capacity" in changes and not 0 <= changes["draw_capacity"] <= MAX_DRAW_CAPACITY:
        raise QueueInvalid("draw_capacity", f"Between 0 and {MAX_DRAW_CAPACITY:,} per round.")
    if "mix" in changes:
        changes["mix"] = _check_mix(changes["mix"])
    if "bandit_reward" in changes and changes["bandit_reward"] not in BanditReward.values:
        raise QueueInvalid("bandit_reward", "One of: " + ", ".join(BanditReward.values) + ".")
    if "audit_floor" in changes and not 0 < changes["audit_floor"] <= 0.5:
        raise QueueInvalid("audit_floor", "A share above 0 and at most 0.5.")
    if "hide_score_share" in changes and not 0 <= changes["hide_score_share"] <= 1:
        raise QueueInvalid("hide_score_share", "A share between 0 and 1.")
    if "rereview_share" in changes and not 0 <= changes["rereview_share"] <= 0.5:
        raise QueueInvalid("rereview_share", "A share between 0 and 0.5.")
    if "sla_minutes" in changes:
        sla = changes["sla_minutes"]
        if not isinstance(sla, int) or isinstance(sla, bool):
            raise QueueInvalid("sla_minutes", "A whole number of minutes.")
        if not MIN_SLA_MINUTES <= sla <= MAX_SLA_MINUTES:
            raise QueueInvalid("sla_minutes", "Between 5 minutes and 30 days.")


@transaction.atomic
def queue_update(*, actor: Any, queue_id: int, **changes: Any) -> Queue:
    """Change a queue's settings: pause, overlap share and k, gold rate, the SLA target
    (minutes an item may wait for its first analyst), and the active-learning levers
    (capacity per round, strategy mix, bandit and its reward, audit floor, share of items
    shown without the model's score)."""
    _check_settings(changes)
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
    # Two leads setting the same merchant's answer at once: the second waits here, then
    # sees the first answer and is told so.
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
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
                updated += _bulk_update(batch)
    return updated


def _bulk_update(batch: list[tuple[int, float, int | None]]) -> int:
    open_ids = set(
        ReviewItem.objects.filter(pk__in=[row[0] for row in batch], status__in=OPEN).values_list(
            "pk", flat=True
        )
    )
    rows = [row for row in batch if row[0] in open_ids]
    scored = [ReviewItem(pk=i, priority=p, score_id=s) for i, p, s in rows if s is not None]
    unscored = [ReviewItem(pk=i, priority=p) for i, p, s in rows if s is None]
    ReviewItem.objects.bulk_update(scored, ["priority", "score_id"], batch_size=500)
    ReviewItem.objects.bulk_update(unscored, ["priority"], batch_size=500)
    return len(rows)


def _copy_update(batch: list[tuple[int, float, int | None]]) -> int:
    with connection.cursor() as cursor:
        # One temporary table per connection, emptied per batch (a caller's outer
        # transaction may hold several batches).
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS reprioritise"
            " (id bigint, priority float8, score_id bigint) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE reprioritise")
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


# Re-rank by a new model's scores without the rows leaving the database: one UPDATE ... FROM
# per id range (PostgreSQL and SQLite >= 3.33 both have it). Each range commits on its
# own, so row locks last one batch and claims keep flowing (they skip locked rows).
RESCORE = """
    UPDATE labeling_reviewitem AS i SET priority = {priority}, score_id = s.id
    FROM supportability_score AS s
    WHERE i.id >= %s AND i.id < %s AND i.status IN ('queued', 'leased') AND i.gold_id IS NULL
      AND s.merchant_id = i.merchant_id AND s.model_version_id = %s
"""
# PostgreSQL: lock the range's rows in id order first, skipping the few a claim, label or
# intake holds at that instant (they keep their old priority until the next re-ranking),
# so that the batch never waits on, or deadlocks with, analysts' work.
RESCORE_POSTGRES = """
    UPDATE labeling_reviewitem AS i SET priority = {priority}, score_id = s.id
    FROM supportability_score AS s
    WHERE i.id IN (
        SELECT id FROM labeling_reviewitem
        WHERE id >= %s AND id < %s AND status IN ('queued', 'leased') AND gold_id IS NULL
        ORDER BY id FOR UPDATE SKIP LOCKED)
      AND s.merchant_id = i.merchant_id AND s.model_version_id = %s
"""
# Items a sampling round drew keep their place (rounds are worked in order, so that each
# round's estimates complete); the rest are ranked by the new score, and those past their
# queue's SLA keep the raise they got for it (services.sla) on top of it.
_PRIORITY = (
    "CASE WHEN i.sampling_round_id IS NOT NULL THEN i.priority"
    f" WHEN i.sla_breached_at IS NOT NULL THEN s.probability + {SLA_BOOST!r}"
    " ELSE s.probability END"
)
RESCORE = RESCORE.format(priority=_PRIORITY)
RESCORE_POSTGRES = RESCORE_POSTGRES.format(priority=_PRIORITY)


def _rescore_range(start: int, stop: int, model_version_id: int) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Re-running a lost batch is harmless, so it need not wait for its WAL flush.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(RESCORE_POSTGRES, [start, stop, model_version_id])
        else:
            cursor.execute(RESCORE, [start, stop, model_version_id])
        return cursor.rowcount


def _rescore_ranges(ranges: list[tuple[int, int]], model_version_id: int) -> int:
    try:
        return sum(_rescore_range(a, b, model_version_id) for a, b in ranges)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()


def queue_reprioritise(
    *, model_version: ModelVersion, actor: Any = None, batch_size: int = REPRIORITISE_BATCH
) -> int:
    """Re-rank every open item by a new model's scores, in bulk: set-based batches by id
    range, spread over two database connections on PostgreSQL (the machine has two cores;
    the work is the database's). Items flagged upstream are ranked by the new calibrated
    probability; items a sampling round drew keep their order (rounds are worked in turn)
    and take the new score."""
    bounds = ReviewItem.objects.filter(status__in=OPEN).aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        ranges: list[tuple[int, int]] = []
    else:
        ranges = [
            (start, start + batch_size)
            for start in range(bounds["lo"], bounds["hi"] + 1, batch_size)
        ]
    if connection.vendor == "postgresql" and not connection.in_atomic_block and len(ranges) > 1:
        with ThreadPoolExecutor(max_workers=RESCORE_CONNECTIONS) as pool:
            shares = [ranges[i::RESCORE_CONNECTIONS] for i in range(RESCORE_CONNECTIONS)]
            updated = sum(pool.map(_rescore_ranges, shares, [model_version.pk] * len(shares)))
    else:
        updated = _rescore_ranges(ranges, model_version.pk)
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="queue.reprioritise",
            target=model_version,
            after={"items": updated, "model": str(model_version)},
        )
    return updated
