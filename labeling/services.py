"""Writes of the review queue: enqueue, claim (lease), release, expire, label, intake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from supportability.audit import audit_record
from supportability.models import (
    AuditEvent,
    Decision,
    Merchant,
    ModelVersion,
    PolicyCategory,
    PolicyVersion,
    Score,
)

from .models import Label, Lease, ReviewItem

MAX_RATIONALE = 5_000
# A skipped item goes back to the queue for colleagues, not straight back to its skipper.
SKIP_COOLDOWN = timedelta(hours=1)


class LabelInvalid(ValueError):
    """Bad input for a label; names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class LeaseLost(Exception):
    """The caller does not hold a live lease on the item (expired, released, or another
    analyst's). The HTTP layer answers 409."""


# --- claim, release, expire ---------------------------------------------------------------


def _lease_ttl() -> timedelta:
    return timedelta(seconds=settings.LEASE_SECONDS)


@transaction.atomic
def item_claim(*, user: Any) -> Lease | None:
    """Lease the next item to `user`: the highest priority queued item they have not
    labelled nor skipped in the last hour. An analyst holding a live lease gets it back
    (one item at a time), so two tabs cannot hoard the queue. None when nothing is left."""
    now = timezone.now()
    held = (
        Lease.objects.select_related("item")
        .filter(holder=user, outcome=Lease.Outcome.ACTIVE, expires_at__gt=now)
        .first()
    )
    if held is not None:
        return held
    # PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent claimers pass over the row another
    # transaction is taking instead of waiting on it, so each gets a different item. SQLite
    # ignores it, but our transactions there start IMMEDIATE (settings), which serialises
    # claims: the second reads only after the first has committed its lease.
    labelled = Label.objects.filter(item=OuterRef("pk"), analyst=user)
    skipped = Lease.objects.filter(
        item=OuterRef("pk"),
        holder=user,
        outcome=Lease.Outcome.RELEASED,
        ended_at__gt=now - SKIP_COOLDOWN,
    )
    item = (
        ReviewItem.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=ReviewItem.Status.QUEUED)
        .filter(~Exists(labelled), ~Exists(skipped))
        .order_by("-priority", "id")
        .first()
    )
    if item is None:
        return None
    item.status = ReviewItem.Status.LEASED
    item.save(update_fields=["status", "updated_at"])
    lease = Lease.objects.create(
        item=item, holder=user, claimed_at=now, expires_at=now + _lease_ttl()
    )
    audit_record(
        actor=user,
        verb="item.claim",
        target=item,
        merchant_id=item.merchant_id,
        before={"status": ReviewItem.Status.QUEUED},
        after={"status": item.status, "lease": str(lease.token), "expires_at": _iso(lease)},
    )
    return lease


def _iso(lease: Lease) -> str:
    return lease.expires_at.isoformat()


def _live_lease(*, user: Any, item_id: int, lease_token: Any, now: datetime) -> Lease:
    lease = (
        Lease.objects.select_for_update(of=("self", "item"))
        .select_related("item", "item__score")
        .filter(token=lease_token, item_id=item_id)
        .first()
    )
    if lease is None:
        raise LeaseLost("No lease with that token on this item: claim the item first.")
    if lease.holder_id != user.pk:
        raise LeaseLost("This item is leased to another analyst.")
    if lease.outcome != Lease.Outcome.ACTIVE:
        raise LeaseLost(f"Your lease on this item has ended ({lease.outcome}): claim again.")
    if lease.expires_at <= now:
        raise LeaseLost("Your lease on this item has expired: claim again.")
    return lease


@transaction.atomic
def lease_release(*, user: Any, item_id: int, lease_token: Any) -> ReviewItem:
    """Give an item back (skip): it returns to the queue at once, the skip recorded."""
    now = timezone.now()
    lease = _live_lease(user=user, item_id=item_id, lease_token=lease_token, now=now)
    lease.outcome = Lease.Outcome.RELEASED
    lease.ended_at = now
    lease.save(update_fields=["outcome", "ended_at"])
    item = lease.item
    item.status = ReviewItem.Status.QUEUED
    item.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user,
        verb="item.release",
        target=item,
        merchant_id=item.merchant_id,
        before={"status": ReviewItem.Status.LEASED, "lease": str(lease.token)},
        after={"status": item.status},
    )
    return item


@transaction.atomic
def leases_expire(*, now: datetime | None = None, batch: int = 1_000) -> int:
    """Return items whose lease ran out to the queue (the beat reaper calls this)."""
    now = now or timezone.now()
    expired = list(
        Lease.objects.select_for_update(skip_locked=True)
        .filter(outcome=Lease.Outcome.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", "item_id", "token", "item__merchant_id")[:batch]
    )
    if not expired:
        return 0
    Lease.objects.filter(id__in=[row[0] for row in expired]).update(
        outcome=Lease.Outcome.EXPIRED, ended_at=now
    )
    ReviewItem.objects.filter(
        id__in=[row[1] for row in expired], status=ReviewItem.Status.LEASED
    ).update(status=ReviewItem.Status.QUEUED, updated_at=now)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor_label="system",
                verb="lease.expire",
                object_type="labeling.reviewitem",
                object_id=str(item_id),
                merchant_id=merchant_id,
                before={"status": ReviewItem.Status.LEASED, "lease": str(token)},
                after={"status": ReviewItem.Status.QUEUED},
            )
            for _, item_id, token, merchant_id in expired
        ]
    )
    return len(expired)


# --- labels -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelInput:
    decision: str
    category_slug: str
    rationale: str
    idempotency_key: str


def _validate_label(data: LabelInput) -> PolicyCategory:
    if data.decision not in Decision.values:
        raise LabelInvalid("decision", f"Decision must be one of {', '.join(Decision.values)}.")
    key = data.idempotency_key.strip()
    if not key or len(key) > 64:
        raise LabelInvalid("idempotency_key", "A client idempotency key of 1-64 characters.")
    slug = data.category_slug or ("none" if data.decision == Decision.SUPPORTABLE else "")
    if not slug:
        raise LabelInvalid("category", f"A {data.decision} label needs a policy category.")
    category = PolicyCategory.objects.filter(slug=slug, assignable=True).first()
    if category is None:
        raise LabelInvalid("category", f"Unknown or non-assignable category {slug!r}.")
    if data.decision == Decision.SUPPORTABLE and category.slug != "none":
        raise LabelInvalid("category", "A supportable merchant takes the category 'none'.")
    if data.decision in {Decision.RESTRICTED, Decision.PROHIBITED} and category.slug == "none":
        raise LabelInvalid("category", f"A {data.decision} label needs a policy category.")
    if data.decision != Decision.SUPPORTABLE and not data.rationale.strip():
        raise LabelInvalid("rationale", f"A rationale is required for a {data.decision} label.")
    if len(data.rationale) > MAX_RATIONALE:
        raise LabelInvalid("rationale", f"At most {MAX_RATIONALE} characters.")
    return category


@transaction.atomic
def label_submit(
    *, user: Any, item_id: int, lease_token: Any, data: LabelInput
) -> tuple[Label, bool]:
    """Record `user`'s label on an item they hold. A repeat with the same idempotency key
    returns the first label (created=False); a stale or foreign lease raises LeaseLost."""
    repeat = Label.objects.filter(analyst=user, idempotency_key=data.idempotency_key).first()
    if repeat is not None:
        if repeat.item_id != item_id:
            raise LabelInvalid("idempotency_key", "This key was already used for another item.")
        return repeat, False
    category = _validate_label(data)
    now = timezone.now()
    lease = _live_lease(user=user, item_id=item_id, lease_token=lease_token, now=now)
    item = lease.item
    policy = PolicyVersion.objects.filter(is_current=True).first()
    if policy is None:
        raise LabelInvalid("policy_version", "No policy version is in force: ask an admin.")
    score: Score | None = item.score
    label = Label.objects.create(
        item=item,
        merchant_id=item.merchant_id,
        analyst=user,
        lease=lease,
        decision=data.decision,
        category=category,
        rationale=data.rationale.strip(),
        seconds_spent=(now - lease.claimed_at).total_seconds(),
        score_seen=score.probability if score is not None else None,
        model_version_seen_id=score.model_version_id if score is not None else None,
        policy_version=policy,
        idempotency_key=data.idempotency_key,
    )
    lease.outcome = Lease.Outcome.LABELLED
    lease.ended_at = now
    lease.save(update_fields=["outcome", "ended_at"])
    before = {"status": item.status, "label_count": item.label_count}
    item.label_count = F("label_count") + 1
    item.save(update_fields=["label_count", "updated_at"])
    item.refresh_from_db(fields=["label_count"])
    item.status = (
        ReviewItem.Status.DONE
        if item.label_count >= item.required_labels
        else ReviewItem.Status.QUEUED
    )
    item.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user,
        verb="label.submit",
        target=label,
        merchant_id=item.merchant_id,
        before=before,
        after={
            "item": item.pk,
            "decision": label.decision,
            "category": category.slug,
            "status": item.status,
            "label_count": item.label_count,
        },
    )
    return label, True


# --- enqueue and intake -------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueue:
    merchant_id: int
    score_id: int | None
    priority: float
    propensity: float
    reason: str
    required_labels: int = 1


def items_enqueue(*, entries: Sequence[Enqueue], actor: Any = None) -> int:
    """Queue merchants for review in bulk. A merchant with an open item keeps it, raised to
    the higher priority. Call inside the caller's transaction. Returns items created."""
    if not entries:
        return 0
    open_items = {
        item.merchant_id: item
        for item in ReviewItem.objects.select_for_update().filter(
            merchant_id__in=[e.merchant_id for e in entries],
            status__in=[ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED],
        )
    }
    new: dict[int, ReviewItem] = {}
    raised: list[ReviewItem] = []
    for entry in entries:
        existing = open_items.get(entry.merchant_id) or new.get(entry.merchant_id)
        if existing is not None:
            if entry.priority > existing.priority:
                existing.priority = entry.priority
                existing.score_id = entry.score_id
                if existing.pk is not None:
                    raised.append(existing)
            continue
        new[entry.merchant_id] = ReviewItem(
            merchant_id=entry.merchant_id,
            score_id=entry.score_id,
            priority=entry.priority,
            propensity=entry.propensity,
            reason=entry.reason,
            required_labels=entry.required_labels,
        )
    created = ReviewItem.objects.bulk_create(list(new.values()), batch_size=1_000)
    if raised:
        ReviewItem.objects.bulk_update(raised, ["priority", "score_id"], batch_size=1_000)
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else "system"
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                actor_label=label,
                verb="item.enqueue",
                object_type="labeling.reviewitem",
                object_id=str(item.pk),
                merchant_id=item.merchant_id,
                after={
                    "reason": item.reason,
                    "priority": item.priority,
                    "propensity": item.propensity,
                    "required_labels": item.required_labels,
                },
            )
            for item in created
        ]
        + [
            AuditEvent(
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                actor_label=label,
                verb="item.reprioritise",
                object_type="labeling.reviewitem",
                object_id=str(item.pk),
                merchant_id=item.merchant_id,
                after={"priority": item.priority, "score": item.score_id},
            )
            for item in raised
        ],
        batch_size=1_000,
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


@dataclass(frozen=True)
class IntakeResult:
    merchants_created: int
    merchants_updated: int
    scores_created: int
    scores_unchanged: int
    items_enqueued: int


@transaction.atomic
def flags_ingest(*, rows: Sequence[dict[str, Any]], actor: Any) -> IntakeResult:
    """Take a batch of model-flagged merchants from an upstream detector: upsert the
    merchants, record the scores, queue them. Idempotent on (merchant, model, version): a
    replayed batch writes nothing. Rows are validated by the caller; all or nothing."""
    by_external = {row["merchant"]["external_id"]: row["merchant"] for row in rows}
    merchants = Merchant.objects.select_for_update().in_bulk(
        list(by_external), field_name="external_id"
    )
    to_create = [m for ext, m in by_external.items() if ext not in merchants]
    created = Merchant.objects.bulk_create([Merchant(**m) for m in to_create], batch_size=1_000)
    changed: list[Merchant] = []
    for ext, fields in by_external.items():
        merchant = merchants.get(ext)
        if merchant is None:
            continue
        diff = {
            k: v for k, v in fields.items() if k in MERCHANT_FIELDS and getattr(merchant, k) != v
        }
        if diff:
            for key, value in diff.items():
                setattr(merchant, key, value)
            changed.append(merchant)
    if changed:
        Merchant.objects.bulk_update(changed, list(MERCHANT_FIELDS), batch_size=1_000)
    merchants.update({m.external_id: m for m in created})

    versions: dict[tuple[str, str], ModelVersion] = {}
    for name, version in {(r["model"]["name"], r["model"]["version"]) for r in rows}:
        versions[(name, version)], _ = ModelVersion.objects.get_or_create(
            name=name, version=version, defaults={"status": ModelVersion.Status.EXTERNAL}
        )
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
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor=actor,
                    actor_label=actor.get_username(),
                    verb="merchant.create" if m in created else "merchant.update",
                    object_type="supportability.merchant",
                    object_id=str(m.pk),
                    merchant_id=m.pk,
                    after={"external_id": m.external_id, "name": m.name},
                )
                for m in [*created, *changed]
            ]
        )
        audit_record(
            actor=actor,
            verb="flags.ingest",
            target=next(iter(versions.values())),
            after=result.__dict__,
        )
    return result
