"""Label capture: validate, check the lease, record, and move the item on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from supportability.audit import audit_record
from supportability.models import Decision, PolicyCategory, PolicyVersion, Score

from ..models import Label, Lease, ReviewItem
from .claims import live_lease
from .errors import IdempotencyConflict, LabelInvalid, LeaseLost

MAX_RATIONALE = 5_000


@dataclass(frozen=True)
class LabelInput:
    decision: str
    category_slug: str
    rationale: str
    idempotency_key: str


def validate_label(data: LabelInput) -> PolicyCategory:
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


def _same(label: Label, data: LabelInput, category: PolicyCategory) -> bool:
    return (
        label.decision == data.decision
        and label.category_id == category.pk
        and label.rationale == data.rationale.strip()
    )


def _repeat(user: Any, item_id: int, data: LabelInput) -> Label | None:
    """The label an earlier submit with this idempotency key stored, if any."""
    repeat = (
        Label.objects.select_related("category")
        .filter(analyst=user, idempotency_key=data.idempotency_key)
        .first()
    )
    if repeat is None:
        return None
    if repeat.item_id != item_id or not _same(repeat, data, repeat.category):
        raise IdempotencyConflict(
            "This idempotency key was already used for a different label: send a new key."
        )
    return repeat


def _next_status(item: ReviewItem, label: Label) -> str:
    """Where the item goes after this label: gold items stay queued for the next analyst;
    an `unsure`, or independent labels that disagree, go to a lead; an item with all its
    labels in agreement is done; otherwise it waits for its next, blind, label."""
    if item.gold_id is not None:
        return ReviewItem.Status.QUEUED
    if label.decision == Decision.UNSURE:
        return ReviewItem.Status.ESCALATED
    if item.label_count < item.required_labels:
        return ReviewItem.Status.QUEUED
    if item.required_labels > 1:
        answers = set(item.labels.values_list("decision", "category_id"))
        if len(answers) > 1:
            return ReviewItem.Status.ESCALATED
    return ReviewItem.Status.DONE


@transaction.atomic
def label_submit(
    *, user: Any, item_id: int, lease_token: Any, data: LabelInput
) -> tuple[Label, bool]:
    """Record `user`'s label on an item they hold. A repeat with the same idempotency key
    and payload returns the first label (created=False), even after the lease ended; the
    same key with another payload is a conflict, and so is a stale or foreign lease."""
    category = validate_label(data)
    repeat = _repeat(user, item_id, data)
    if repeat is not None:
        return repeat, False
    now = timezone.now()
    try:
        # Locks the lease and its item: a concurrent double submit waits here, then sees
        # the lease labelled, and finds the label the first submit stored.
        lease = live_lease(user=user, item_id=item_id, lease_token=lease_token, now=now)
    except LeaseLost:
        repeat = _repeat(user, item_id, data)
        if repeat is not None:
            return repeat, False
        raise
    item = lease.item
    policy = PolicyVersion.objects.filter(is_current=True).first()
    if policy is None:
        raise LabelInvalid("policy_version", "No policy version is in force: ask an admin.")
    # The score the analyst was shown is the one their lease was claimed with, whatever
    # arrived for the merchant since.
    seen: Score | None = lease.score
    label = Label.objects.create(
        item=item,
        merchant_id=item.merchant_id,
        analyst=user,
        lease=lease,
        decision=data.decision,
        category=category,
        rationale=data.rationale.strip(),
        seconds_spent=(now - lease.claimed_at).total_seconds(),
        score_seen=seen.probability if seen is not None else None,
        model_version_seen_id=seen.model_version_id if seen is not None else None,
        policy_version=policy,
        idempotency_key=data.idempotency_key,
        gold_correct=(
            None
            if item.gold is None
            else (data.decision == item.gold.decision and category.pk == item.gold.category_id)
        ),
    )
    lease.outcome = Lease.Outcome.LABELLED
    lease.ended_at = now
    lease.save(update_fields=["outcome", "ended_at"])
    before = {"status": item.status, "label_count": item.label_count}
    item.label_count += 1  # the item row is locked with the lease
    item.status = _next_status(item, label)
    item.save(update_fields=["label_count", "status", "updated_at"])
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
