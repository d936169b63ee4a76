"""Work entering the queue: bulk enqueue, and intake of flags from upstream detectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from supportability import validation
from supportability.audit import audit_event, audit_record, audit_record_many
from supportability.ml.text_change import material_change
from supportability.models import Merchant, ModelVersion, Score
from supportability.outbox import outbox_write

from ..models import Queue, ReviewItem
from .claims import chance
from .errors import InvalidInput
from .queues import queue_default


@dataclass(frozen=True)
class Enqueue:
    merchant_id: int
    score_id: int | None
    priority: float
    propensity: float
    reason: str
    queue_id: int | None = None  # None: the default queue
    required_labels: int | None = None  # None: k with the queue's overlap share, else 1
    sampling_round_id: int | None = None  # the active-learning round that drew it
    score_hidden: bool = False  # the analyst is not shown the model's score


def _snapshot(item: ReviewItem) -> dict[str, Any]:
    return {
        "priority": item.priority,
        "score": item.score_id,
        "propensity": item.propensity,
        "reason": item.reason,
    }


def _merge(item: ReviewItem, entry: Enqueue) -> bool:
    """Fold a new selection of a merchant into its open item. Selected twice independently,
    the merchant's inclusion probability is 1 - (1 - π1)(1 - π2), so its weight stays
    honest. The priority rises to the higher one; a leased item keeps the score its analyst
    is looking at; an item a round drew keeps its priority. Returns whether anything
    changed."""
    changed = False
    propensity = 1 - (1 - item.propensity) * (1 - entry.propensity)
    if propensity > item.propensity:
        if entry.propensity > item.propensity:
            item.reason = entry.reason
        item.propensity = min(1.0, propensity)
        changed = True
    # An item a sampling round drew keeps its place in the round (its priority says nothing
    # of its score, which the analyst may not be shown).
    if entry.priority > item.priority and item.sampling_round_id is None:
        item.priority = entry.priority
        if item.status != ReviewItem.Status.LEASED:
            item.score_id = entry.score_id
        changed = True
    return changed


@transaction.atomic
def items_enqueue(*, entries: Sequence[Enqueue], actor: Any = None) -> int:
    """Queue merchants for review in bulk. A merchant with an open item keeps it, raised to
    the higher priority. Each new item needs the queue's k independent labels with the
    queue's overlap share. Call inside the caller's transaction. Returns items created."""
    if not entries:
        return 0
    default = queue_default()
    queues = {q.pk: q for q in Queue.objects.all()}
    open_items = {
        item.merchant_id: item
        # Locked in id order, like every multi-row lock on items, so that no two bulk
        # operations can deadlock.
        for item in ReviewItem.objects.select_for_update()
        .filter(
            merchant_id__in=[e.merchant_id for e in entries],
            status__in=[ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED],
        )
        .order_by("pk")
    }
    before = {item.pk: _snapshot(item) for item in open_items.values()}
    new: dict[int, ReviewItem] = {}
    raised: list[ReviewItem] = []
    for entry in entries:
        existing = open_items.get(entry.merchant_id) or new.get(entry.merchant_id)
        if existing is not None:
            if _merge(existing, entry) and existing.pk is not None:
                raised.append(existing)
            continue
        queue = queues[entry.queue_id or default.pk]
        required = entry.required_labels
        if required is None:
            required = queue.overlap_k if chance.random() < queue.overlap_share else 1
        new[entry.merchant_id] = ReviewItem(
            merchant_id=entry.merchant_id,
            queue=queue,
            score_id=entry.score_id,
            priority=entry.priority,
            propensity=entry.propensity,
            reason=entry.reason,
            required_labels=required,
            sampling_round_id=entry.sampling_round_id,
            score_hidden=entry.score_hidden,
        )
    created = ReviewItem.objects.bulk_create(list(new.values()), batch_size=1_000)
    if raised:
        ReviewItem.objects.bulk_update(
            raised, ["priority", "score_id", "propensity", "reason"], batch_size=1_000
        )
    audit_record_many(
        [
            audit_event(
                actor=actor,
                verb="item.enqueue",
                target=item,
                merchant_id=item.merchant_id,
                after={
                    "queue": item.queue.slug,
                    "required_labels": item.required_labels,
                    "score_hidden": item.score_hidden,
                }
                | _snapshot(item),
            )
            for item in created
        ]
        + [
            audit_event(
                actor=actor,
                verb="item.reflag",
                target=item,
                merchant_id=item.merchant_id,
                before=before[item.pk],
                after=_snapshot(item),
            )
            for item in raised
        ]
    )
    return len(created)


MERCHANT_FIELDS = (
    "name",
    "country",
    "mcc",
    "url",
    "description",
    "website_text",
    "refund_rate",
    "dispute_rate",
    "cnp_share",
    "account_age_days",
    "monthly_volume",
)


# The review layer's task for merchants whose own words changed (by name: labeling does
# not import review).
TEXT_CHANGED_TASK = "review.tasks.rereview_text_changed"
TEXT_FIELDS = ("description", "website_text")


def _rewritten(merchant: Merchant, diff: dict[str, Any]) -> bool:
    """Whether `diff` changes what the merchant says about itself materially."""
    if not any(field in diff for field in TEXT_FIELDS):
        return False
    before = "\n".join(getattr(merchant, field) for field in TEXT_FIELDS)
    after = "\n".join(diff.get(field, getattr(merchant, field)) for field in TEXT_FIELDS)
    return material_change(before, after)


class IntakeInvalid(InvalidInput):
    pass


@dataclass(frozen=True)
class IntakeResult:
    merchants_created: int
    merchants_updated: int
    scores_created: int
    scores_unchanged: int
    items_enqueued: int


def external_ids_lock(external_ids: list[str]) -> None:
    """Serialise concurrent intakes of the same merchants. PostgreSQL: a transaction-scoped
    advisory lock per external id, taken in sorted order so two batches cannot deadlock.
    SQLite: the IMMEDIATE transaction already serialises writers."""
    if connection.vendor != "postgresql" or not external_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(x, 0)))"
            " FROM unnest(%s::text[]) AS x",
            [external_ids],
        )


def flag_check(row: dict[str, Any], *, index: int) -> dict[str, Any]:
    """One flag's values held to the stored-value rules (supportability.validation),
    whichever entry point parsed it; errors name the row, e.g. `[3].merchant.mcc`."""
    where = f"[{index}]."
    merchant = validation.merchant_values(row["merchant"], prefix=f"{where}merchant.")
    for field in ("external_id", "name", "country", "mcc"):
        if field not in merchant:
            raise IntakeInvalid(f"{where}merchant.{field}", "This field is required.")
    explanation = row.get("explanation") or {}
    return row | {
        "merchant": merchant,
        "score": validation.probability(row["score"], field=f"{where}score"),
        "explanation": validation.explanation(explanation, field=f"{where}explanation"),
    }


@transaction.atomic
def flags_ingest(*, rows: Sequence[dict[str, Any]], actor: Any) -> IntakeResult:
    """Take a batch of model-flagged merchants from an upstream detector: upsert the
    merchants, record the scores, queue them. Idempotent on (merchant, model, version): a
    replayed batch writes nothing. All or nothing: one invalid row refuses the batch."""
    rows = [flag_check(row, index=i) for i, row in enumerate(rows)]
    by_external = {row["merchant"]["external_id"]: row["merchant"] for row in rows}
    external_ids_lock(sorted(by_external))
    merchants = Merchant.objects.select_for_update().in_bulk(
        list(by_external), field_name="external_id"
    )
    to_create = [m for ext, m in by_external.items() if ext not in merchants]
    created = Merchant.objects.bulk_create([Merchant(**m) for m in to_create], batch_size=1_000)
    changed: list[Merchant] = []
    rewritten: list[int] = []
    for ext, fields in by_external.items():
        merchant = merchants.get(ext)
        if merchant is None:
            continue
        diff = {
            k: v for k, v in fields.items() if k in MERCHANT_FIELDS and getattr(merchant, k) != v
        }
        if _rewritten(merchant, diff):
            rewritten.append(merchant.pk)
        if diff:
            for key, value in diff.items():
                setattr(merchant, key, value)
            changed.append(merchant)
    if changed:
        Merchant.objects.bulk_update(changed, list(MERCHANT_FIELDS), batch_size=1_000)
    if rewritten:
        # A decided merchant that says something else now gets a second look; the review
        # layer decides which of them were decided (review.services.rereview).
        outbox_write(task=TEXT_CHANGED_TASK, kwargs={"merchant_ids": sorted(rewritten)})
    merchants.update({m.external_id: m for m in created})

    versions: dict[tuple[str, str], ModelVersion] = {}
    for name, version in {(r["model"]["name"], r["model"]["version"]) for r in rows}:
        model_version, _ = ModelVersion.objects.get_or_create(
            name=name, version=version, defaults={"status": ModelVersion.Status.EXTERNAL}
        )
        if model_version.status != ModelVersion.Status.EXTERNAL:
            raise IntakeInvalid(
                "model", f"{name}@{version} is one of our own models, not an upstream detector."
            )
        versions[(name, version)] = model_version
    existing_scores = set(
        Score.objects.filter(
            merchant__in=list(merchants.values()), model_version__in=list(versions.values())
        ).values_list("merchant_id", "model_version_id")
    )
    new_scores: list[Score] = []
    seen: set[tuple[int, int]] = set()
    for row in rows:
        merchant = merchants[row["merchant"]["external_id"]]
        model_version = versions[(row["model"]["name"], row["model"]["version"])]
        key = (merchant.pk, model_version.pk)
        if key in existing_scores or key in seen:
            continue
        seen.add(key)
        new_scores.append(
            Score(
                merchant=merchant,
                model_version=model_version,
                probability=row["score"],
                predicted_category=row.get("category"),
                explanation=row.get("explanation") or {},
            )
        )
    Score.objects.bulk_create(new_scores, batch_size=1_000)
    enqueued = items_enqueue(
        entries=[
            Enqueue(
                merchant_id=score.merchant_id,
                score_id=score.pk,
                priority=score.probability,
                propensity=1.0,
                reason=ReviewItem.Reason.UPSTREAM,
            )
            for score in new_scores
        ],
        actor=actor,
    )
    result = IntakeResult(
        merchants_created=len(created),
        merchants_updated=len(changed),
        scores_created=len(new_scores),
        scores_unchanged=len(rows) - len(new_scores),
        items_enqueued=enqueued,
    )
    if created or changed or new_scores:
        audit_record_many(
            audit_event(
                actor=actor,
                verb="merchant.create" if m in created else "merchant.update",
                target=m,
                merchant_id=m.pk,
                after={"external_id": m.external_id, "name": m.name},
            )
            for m in [*created, *changed]
        )
        audit_record(
            actor=actor,
            verb="flags.ingest",
            target=next(iter(versions.values())),
            after=result.__dict__,
        )
    return result
