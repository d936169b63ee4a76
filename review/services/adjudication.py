"""Adjudication: a lead's final decision on an item whose labels disagree or that an analyst
escalated as unsure; a second lead's sign-off where the category demands four eyes; and
reopening, which keeps the old decision in history and lets a new one supersede it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling.models import Label, ReviewItem
from labeling.services import LabelInput, validate_label
from labeling.services.labels import MAX_RATIONALE
from supportability.audit import audit_record
from supportability.models import Decision, PolicyCategory, PolicyVersion

from ..models import Adjudication
from ..selectors import review_rules
from .errors import Conflict, InvalidInput, NotAllowed
from .lead_work import lead_lease, lease_finish, require_lead


@dataclass(frozen=True)
class Decided:
    """A lead's answer: decision, category and the rationale that is always required."""

    decision: str
    category_slug: str
    rationale: str


def validate_decided(data: Decided) -> PolicyCategory:
    if data.decision == Decision.UNSURE:
        raise InvalidInput("decision", "A lead's decision is final: not unsure.")
    if not data.rationale.strip():
        raise InvalidInput("rationale", "A rationale is required.")
    if len(data.rationale) > MAX_RATIONALE:
        raise InvalidInput("rationale", f"At most {MAX_RATIONALE} characters.")
    return validate_label(LabelInput(data.decision, data.category_slug, data.rationale, "lead"))


def _check_not_labeller(user: Any, item: ReviewItem, doing: str) -> None:
    if Label.objects.filter(item=item, analyst=user).exists():
        raise NotAllowed(f"You labelled this item: another lead must {doing} it.")


@transaction.atomic
def adjudication_submit(
    *,
    user: Any,
    item_id: int,
    lease_token: Any,
    data: Decided,
    upheld_label_id: int | None = None,
    for_training: bool = True,
    training_note: str = "",
) -> Adjudication:
    """Decide an escalated item the lead holds. Where a four-eyes category is at stake the
    decision waits for a second lead's sign-off; otherwise it is final and the item done."""
    require_lead(user)
    category = validate_decided(data)
    if not for_training and not training_note.strip():
        raise InvalidInput("training_note", "Say why this decision must not train a model.")
    lease = lead_lease(user=user, item_id=item_id, lease_token=lease_token)
    item = lease.item
    if item.status != ReviewItem.Status.ESCALATED:
        raise Conflict(f"This item is not awaiting adjudication ({item.get_status_display()}).")
    _check_not_labeller(user, item, "adjudicate")
    labels = {
        label.pk: label
        for label in Label.objects.filter(item=item).select_related("category").order_by("id")
    }
    if upheld_label_id is not None:
        upheld = labels.get(upheld_label_id)
        if upheld is None:
            raise InvalidInput("upheld_label", "That label is not one of this item's labels.")
        if (upheld.decision, upheld.category_id) != (data.decision, category.pk):
            raise InvalidInput(
                "upheld_label", "The upheld label says something else: uphold it or decide."
            )
    superseded = (
        item.adjudications.select_related("category")
        .filter(status=Adjudication.Status.SUPERSEDED, superseded_by__isnull=True)
        .order_by("-id")
        .first()
    )
    # Four eyes when any side of the question is a four-eyes category: the decision, what an
    # analyst said, or the decision this one replaces. Clearing a sanctions flag, or
    # reopening a signed-off decision to change it, needs a second lead as much as making one.
    at_stake = {category.slug} | {label.category.slug for label in labels.values()}
    if superseded is not None:
        at_stake.add(superseded.category.slug)
    requires_signoff = bool(at_stake & review_rules().four_eyes)
    adjudication = Adjudication.objects.create(
        item=item,
        merchant_id=item.merchant_id,
        lease=lease,
        lead=user,
        decision=data.decision,
        category=category,
        rationale=data.rationale.strip(),
        upheld_label_id=upheld_label_id,
        for_training=for_training,
        training_note=training_note.strip(),
        status=(
            Adjudication.Status.AWAITING_SIGNOFF if requires_signoff else Adjudication.Status.FINAL
        ),
        requires_signoff=requires_signoff,
        supersedes=superseded,
        policy_version=PolicyVersion.objects.get(is_current=True),
    )
    lease_finish(lease)
    before_status = item.status
    item.status = ReviewItem.Status.SIGNOFF if requires_signoff else ReviewItem.Status.DONE
    item.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user,
        verb="adjudication.submit",
        target=adjudication,
        merchant_id=item.merchant_id,
        before={
            "item_status": before_status,
            "labels": [f"{lb.decision}/{lb.category.slug}" for lb in labels.values()],
        },
        after={
            "decision": adjudication.decision,
            "category": category.slug,
            "status": adjudication.status,
            "item_status": item.status,
            "for_training": for_training,
            "upheld_label": upheld_label_id,
        },
    )
    return adjudication


@transaction.atomic
def adjudication_signoff(
    *, user: Any, item_id: int, lease_token: Any, approve: bool, note: str = ""
) -> Adjudication:
    """A second lead approves a four-eyes adjudication (it becomes final, the item done) or
    refuses it with a reason (the item goes back to be adjudicated again)."""
    require_lead(user)
    if not approve and not note.strip():
        raise InvalidInput("note", "Say why you refuse to sign this decision off.")
    lease = lead_lease(user=user, item_id=item_id, lease_token=lease_token)
    item = lease.item
    if item.status != ReviewItem.Status.SIGNOFF:
        raise Conflict(f"This item is not awaiting sign-off ({item.get_status_display()}).")
    adjudication = (
        Adjudication.objects.select_for_update()
        .select_related("category")
        .get(item=item, status=Adjudication.Status.AWAITING_SIGNOFF)
    )
    if adjudication.lead_id == user.pk:
        raise NotAllowed("Four eyes: a second lead must sign off your own decision.")
    _check_not_labeller(user, item, "sign off")
    adjudication.status = Adjudication.Status.FINAL if approve else Adjudication.Status.REJECTED
    adjudication.signoff_by = user
    adjudication.signoff_at = timezone.now()
    adjudication.signoff_note = note.strip()
    adjudication.save(update_fields=["status", "signoff_by", "signoff_at", "signoff_note"])
    lease_finish(lease)
    item.status = ReviewItem.Status.DONE if approve else ReviewItem.Status.ESCALATED
    item.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user,
        verb="adjudication.signoff" if approve else "adjudication.signoff_refused",
        target=adjudication,
        merchant_id=item.merchant_id,
        before={"status": Adjudication.Status.AWAITING_SIGNOFF, "item_status": "signoff"},
        after={
            "status": adjudication.status,
            "item_status": item.status,
            "category": adjudication.category.slug,
            "note": adjudication.signoff_note,
        },
    )
    return adjudication


@transaction.atomic
def adjudication_reopen(*, user: Any, adjudication_id: int, reason: str) -> Adjudication:
    """Reopen a final adjudication: it stays in history, marked superseded with the reason,
    and its item goes back to the adjudication queue for a new decision."""
    require_lead(user)
    if not reason.strip():
        raise InvalidInput("reason", "Say why this adjudication is reopened.")
    if len(reason) > MAX_RATIONALE:
        raise InvalidInput("reason", f"At most {MAX_RATIONALE} characters.")
    # Lock the item first, as every service that moves an item does, then the adjudication.
    item_id = (
        Adjudication.objects.filter(pk=adjudication_id).values_list("item_id", flat=True).first()
    )
    if item_id is None:
        raise InvalidInput("adjudication", "No such adjudication.")
    item = ReviewItem.objects.select_for_update().get(pk=item_id)
    adjudication = (
        Adjudication.objects.select_for_update().select_related("category").get(pk=adjudication_id)
    )
    if adjudication.status != Adjudication.Status.FINAL:
        raise Conflict(
            f"Only a final adjudication can be reopened; this one is {adjudication.status}."
        )
    if item.status != ReviewItem.Status.DONE or item.leases.filter(outcome="active").exists():
        raise Conflict("Someone is working on this item now: reopen it when they are done.")
    adjudication.status = Adjudication.Status.SUPERSEDED
    adjudication.reopened_by = user
    adjudication.reopened_at = timezone.now()
    adjudication.reopen_reason = reason.strip()
    adjudication.save(update_fields=["status", "reopened_by", "reopened_at", "reopen_reason"])
    before_status = item.status
    item.status = ReviewItem.Status.ESCALATED
    item.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=user,
        verb="adjudication.reopen",
        target=adjudication,
        merchant_id=item.merchant_id,
        before={
            "status": Adjudication.Status.FINAL,
            "item_status": before_status,
            "decision": adjudication.decision,
            "category": adjudication.category.slug,
        },
        after={
            "status": adjudication.status,
            "item_status": item.status,
            "reason": adjudication.reopen_reason,
        },
    )
    return adjudication
