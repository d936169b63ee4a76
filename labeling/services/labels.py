"""Label capture: validate, check the lease, record, and move the item on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from supportability.audit import audit_record
from supportability.models import Decision, Merchant, PolicyCategory, PolicyVersion

from ..models import Label, Lease, ReviewItem
from . import label_sql
from .claims import check_live, live_lease
from .errors import IdempotencyConflict, LabelInvalid, LeaseLost
from .label_sql import LockedLease
from .undo import Undone, UndoRefused, label_undo, undo_window

__all__ = [
    "MAX_RATIONALE",
    "LabelInput",
    "UndoRefused",
    "Undone",
    "label_submit",
    "label_undo",
    "undo_window",
    "validate_label",
]

MAX_RATIONALE = 5_000


@dataclass(frozen=True)
class LabelInput:
    decision: str
    category_slug: str
    rationale: str
    idempotency_key: str


def _category(slug: str) -> PolicyCategory | None:
    # Plain SQL: on the label's hot path the ORM's query building costs more than the query.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, slug, name FROM supportability_policycategory"
            " WHERE slug = %s AND assignable",
            [slug],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    category = PolicyCategory(id=row[0], slug=row[1], name=row[2], assignable=True)
    category._state.adding = False
    return category


def validate_label(data: LabelInput) -> PolicyCategory:
    if data.decision not in Decision.values:
        raise LabelInvalid("decision", f"Decision must be one of {', '.join(Decision.values)}.")
    key = data.idempotency_key.strip()
    if not key or len(key) > 64:
        raise LabelInvalid("idempotency_key", "A client idempotency key of 1-64 characters.")
    slug = data.category_slug or ("none" if data.decision == Decision.SUPPORTABLE else "")
    if not slug:
        raise LabelInvalid("category", f"A {data.decision} label needs a policy category.")
    category = _category(slug)
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


def _repeat(user: Any, item_id: int, data: LabelInput, category: PolicyCategory) -> Label | None:
    """The label an earlier submit with this idempotency key stored, if any; a conflict if
    that label says something else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, item_id, decision, category_id, rationale FROM labeling_label"
            " WHERE analyst_id = %s AND idempotency_key = %s",
            [user.pk, data.idempotency_key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    label_id, repeat_item, decision, category_id, rationale = row
    same = (repeat_item, decision, category_id, rationale) == (
        item_id,
        data.decision,
        category.pk,
        data.rationale.strip(),
    )
    if not same:
        raise IdempotencyConflict(
            "This idempotency key was already used for a different label: send a new key."
        )
    return Label.objects.select_related("merchant", "category", "analyst").get(pk=label_id)


def _current_policy() -> PolicyVersion:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, version FROM supportability_policyversion WHERE is_current")
        row = cursor.fetchone()
    if row is None:
        raise LabelInvalid("policy_version", "No policy version is in force: ask an admin.")
    policy = PolicyVersion(id=row[0], version=row[1], is_current=True)
    policy._state.adding = False
    return policy


def _next_status(lease: LockedLease, decision: str, category_id: int, label_count: int) -> str:
    """Where the item goes after this label: gold items stay queued for the next analyst;
    an `unsure`, or independent labels that disagree, go to a lead; an item with all its
    labels in agreement is done; otherwise it waits for its next, blind, label."""
    if lease.gold_id is not None:
        return ReviewItem.Status.QUEUED
    if decision == Decision.UNSURE:
        return ReviewItem.Status.ESCALATED
    if label_count < lease.required_labels:
        return ReviewItem.Status.QUEUED
    if lease.required_labels > 1:
        earlier = set(
            Label.objects.filter(item_id=lease.item_id).values_list("decision", "category_id")
        )
        if earlier | {(decision, category_id)} != {(decision, category_id)}:
            return ReviewItem.Status.ESCALATED
    return ReviewItem.Status.DONE


def _lock(*, user: Any, item_id: int, lease_token: Any) -> LockedLease:
    """The caller's live lease on the item, locked with its item; LeaseLost otherwise."""
    if connection.vendor == "postgresql":
        locked = label_sql.lock(lease_token=lease_token, item_id=item_id)
        if locked is None:
            raise LeaseLost("No lease with that token on this item: claim the item first.")
        check_live(
            holder_id=locked.holder_id,
            outcome=locked.outcome,
            expires_at=locked.expires_at,
            user=user,
        )
        return locked
    lease = live_lease(user=user, item_id=item_id, lease_token=lease_token)
    item, score, gold = lease.item, lease.score, lease.item.gold
    return LockedLease(
        lease_id=lease.pk,
        holder_id=lease.holder_id,
        outcome=lease.outcome,
        expires_at=lease.expires_at,
        claimed_at=lease.claimed_at,
        score_id=lease.score_id,
        item_id=item.pk,
        merchant_id=item.merchant_id,
        item_status=item.status,
        label_count=item.label_count,
        required_labels=item.required_labels,
        gold_id=item.gold_id,
        score_hidden=item.score_hidden,
        score_probability=score.probability if score else None,
        score_model_version_id=score.model_version_id if score else None,
        gold_decision=gold.decision if gold else None,
        gold_category_id=gold.category_id if gold else None,
        merchant_external_id=item.merchant.external_id,
        merchant_name=item.merchant.name,
    )


@transaction.atomic
def label_submit(
    *, user: Any, item_id: int, lease_token: Any, data: LabelInput
) -> tuple[Label, bool]:
    """Record `user`'s label on an item they hold. A repeat with the same idempotency key
    and payload returns the first label (created=False), even after the lease ended; the
    same key with another payload is a conflict, and so is a stale or foreign lease.
    PostgreSQL records it in plain SQL (label_sql.py), the hot path's other half."""
    category = validate_label(data)
    repeat = _repeat(user, item_id, data, category)
    if repeat is not None:
        return repeat, False
    try:
        # Locks the lease and its item: a concurrent double submit waits here, then sees
        # the lease labelled, and finds the label the first submit stored.
        lease = _lock(user=user, item_id=item_id, lease_token=lease_token)
    except LeaseLost:
        repeat = _repeat(user, item_id, data, category)
        if repeat is not None:
            return repeat, False
        raise
    if lease.item_status != ReviewItem.Status.LEASED:
        raise LeaseLost("This lease is a lead's, on an item analysts no longer label.")
    now = timezone.now()  # after the lock: this lease ends before the next one starts
    policy = _current_policy()
    label_count = lease.label_count + 1
    status = _next_status(lease, data.decision, category.pk, label_count)
    values = {
        "item": lease.item_id,
        "merchant": lease.merchant_id,
        "user": user.pk,
        "lease": lease.lease_id,
        "decision": data.decision,
        "category": category.pk,
        "rationale": data.rationale.strip(),
        "seconds": (now - lease.claimed_at).total_seconds(),
        # The score the analyst was shown is the one their lease was claimed with,
        # whatever arrived for the merchant since.
        "score_seen": lease.score_probability,
        "score_hidden": lease.score_hidden,
        "model_seen": lease.score_model_version_id,
        "policy": policy.pk,
        "key": data.idempotency_key,
        "gold_correct": (
            None
            if lease.gold_id is None
            else (data.decision, category.pk) == (lease.gold_decision, lease.gold_category_id)
        ),
        "now": now,
        "label_count": label_count,
        "status": status,
    }
    before = {"status": lease.item_status, "label_count": lease.label_count}
    after = {
        "item": lease.item_id,
        "decision": data.decision,
        "category": category.slug,
        "status": status,
        "label_count": label_count,
    }
    if connection.vendor == "postgresql":
        label_id = label_sql.record(
            **values, username=user.get_username(), before=before, after=after
        )
    else:
        label_id = _record_orm(values, user=user, before=before, after=after)
    label = Label(
        id=label_id,
        item_id=lease.item_id,
        merchant=_merchant(lease),
        analyst=user,
        lease_id=lease.lease_id,
        decision=data.decision,
        category=category,
        rationale=values["rationale"],
        seconds_spent=values["seconds"],
        score_seen=values["score_seen"],
        score_hidden=values["score_hidden"],
        model_version_seen_id=values["model_seen"],
        policy_version=policy,
        idempotency_key=data.idempotency_key,
        gold_correct=values["gold_correct"],
        created_at=now,
    )
    label._state.adding = False
    return label, True


def _merchant(lease: LockedLease) -> Merchant:
    merchant = Merchant(
        id=lease.merchant_id, external_id=lease.merchant_external_id, name=lease.merchant_name
    )
    merchant._state.adding = False
    return merchant


def _record_orm(values: dict[str, Any], *, user: Any, before: Any, after: Any) -> int:
    label = Label.objects.create(
        item_id=values["item"],
        merchant_id=values["merchant"],
        analyst=user,
        lease_id=values["lease"],
        decision=values["decision"],
        category_id=values["category"],
        rationale=values["rationale"],
        seconds_spent=values["seconds"],
        score_seen=values["score_seen"],
        score_hidden=values["score_hidden"],
        model_version_seen_id=values["model_seen"],
        policy_version_id=values["policy"],
        idempotency_key=values["key"],
        gold_correct=values["gold_correct"],
    )
    Lease.objects.filter(pk=values["lease"]).update(
        outcome=Lease.Outcome.LABELLED, ended_at=values["now"]
    )
    ReviewItem.objects.filter(pk=values["item"]).update(
        label_count=values["label_count"], status=values["status"], updated_at=values["now"]
    )
    audit_record(
        actor=user,
        verb="label.submit",
        target=label,
        merchant_id=values["merchant"],
        before=before,
        after=after,
    )
    return label.pk
