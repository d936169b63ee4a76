"""Undo: an analyst withdraws the label they just made, within a short window and only while
nothing has acted on it, and gets the item back to decide again. (Exported by labels.py,
beside the submit it reverses.)

A label sets things moving: it ends its lease and moves the item on (queued for the next
blind label, escalated to a lead, or done); a second analyst or a lead may then open the
item, a lead may audit or adjudicate the label, and a training snapshot may freeze the
merchant's clean label. Undo refuses once any of that has happened, once review's
consensus for the merchant has been computed since the label, and when the label was not
the item's first (its author would see how the item settled before trying again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from supportability.audit import audit_event, audit_record_many
from supportability.models import AuditEvent, LabelSnapshotRow, Merchant

from ..models import Label, Lease, ReviewItem
from .claims import lease_ttl
from .errors import Conflict

# How long after a label its author may take it back (settings.LABEL_UNDO_SECONDS).
DEFAULT_UNDO_SECONDS = 30
# Reverse relations of an item that are its own history, not something done with a label.
_ITEM_HISTORY = {"labels", "leases", "draws"}
# When a row about an item was recorded, by the names the models use.
_STAMPS = ("created_at", "drawn_at")


class UndoRefused(Conflict):
    """The label cannot be taken back (too late, not the caller's, or acted upon)."""


@dataclass(frozen=True)
class Undone:
    """The item back in the analyst's hands, and what their withdrawn label said."""

    lease: Lease
    decision: str
    category_slug: str
    rationale: str
    merchant_name: str


def undo_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "LABEL_UNDO_SECONDS", DEFAULT_UNDO_SECONDS))


def _moved_on(label: Label, item: ReviewItem) -> str | None:
    """Why the label can no longer be withdrawn, or None. The item is locked: nothing
    below can start while we look."""
    if Label.objects.filter(item_id=item.pk, pk__gt=label.pk).exists():
        return "someone else has labelled this merchant since"
    if Label.objects.filter(item_id=item.pk).exclude(pk=label.pk).exists():
        # Yours was not the first blind label: how the item settled (agreed, or sent to a
        # lead) shows on the page, and a second try would label with that knowledge.
        return "a colleague labelled this merchant before you, blind; your label stands"
    if Lease.objects.filter(item_id=item.pk, pk__gt=label.lease_id).exists():
        return "a colleague or a lead has opened this merchant since"
    left_in = (
        AuditEvent.objects.filter(
            verb="label.submit", object_type="labeling.label", object_id=str(label.pk)
        )
        .values_list("after__status", flat=True)
        .first()
    )
    if left_in is not None and item.status != left_in:
        return f"the merchant has moved on ({item.get_status_display().lower()})"
    # Whatever a higher layer keeps about this label (a QA audit, an adjudication that
    # upheld it) or has recorded on its item since: found through the models' relations,
    # so that this layer need not know them.
    for relation in _reverse_relations(Label):
        if relation.related_model._default_manager.filter(**{relation.field.name: label}).exists():
            return f"a lead has taken it up ({relation.related_model._meta.verbose_name})"
    for relation in _reverse_relations(ReviewItem):
        model = relation.related_model
        stamp = next((f for f in _STAMPS if f in {x.name for x in model._meta.fields}), None)
        if relation.get_accessor_name() in _ITEM_HISTORY or stamp is None:
            continue
        recorded = {relation.field.name: item, f"{stamp}__gte": label.created_at}
        if model._default_manager.filter(**recorded).exists():
            return f"a lead has taken it up ({model._meta.verbose_name})"
    # What a higher layer derives for the whole merchant (review's consensus, one row per
    # merchant) computed since the label may count it.
    for relation in _reverse_relations(Merchant):
        model = relation.related_model
        if not relation.one_to_one or "computed_at" not in {x.name for x in model._meta.fields}:
            continue
        since = {relation.field.name: label.merchant_id, "computed_at__gte": label.created_at}
        if model._default_manager.filter(**since).exists():
            return "the merchant's consensus has been computed with it since"
    if LabelSnapshotRow.objects.filter(
        merchant_id=label.merchant_id, snapshot__created_at__gte=label.created_at
    ).exists():
        return "a training snapshot has taken the merchant's label"
    return None


def _reverse_relations(model: type[models.Model]) -> list[Any]:
    """Every relation pointing at `model`, those without a reverse accessor included."""
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    ]


def _content(label: Label) -> dict[str, Any]:
    return {
        "label": label.pk,
        "item": label.item_id,
        "decision": label.decision,
        "category": label.category.slug,
        "rationale": label.rationale,
        "seconds_spent": label.seconds_spent,
        "created_at": label.created_at.isoformat(),
    }


@transaction.atomic
def label_undo(*, user: Any, label_id: int) -> Undone:
    """Withdraw `user`'s label `label_id`, made less than undo_window() ago, if nothing has
    acted on it yet: the label is deleted (its content kept in the audit event), the item
    is leased to them again on a fresh lease, and the item they were given next goes back
    to the queue (not as a skip: they may get it again at once)."""
    label = (
        Label.objects.select_related("category", "merchant", "lease")
        .filter(pk=label_id, analyst_id=user.pk)
        .first()
    )
    if label is None:  # someone else's label is none of the caller's business
        raise UndoRefused("There is no label of yours to undo.")
    now = timezone.now()
    window = undo_window()
    if now - label.created_at > window:
        raise UndoRefused(
            f"Too late to undo: a label can be taken back for {int(window.total_seconds())}"
            " seconds. Ask a lead if it was wrong."
        )
    # The caller's current lease (the next item) with its item, then the labelled item:
    # leases before items, as label_submit and the heartbeat lock them.
    held = (
        Lease.objects.select_for_update(of=("self", "item"))
        .select_related("item")
        .filter(holder=user, outcome=Lease.Outcome.ACTIVE)
        .first()
    )
    if held is not None and held.item.status != ReviewItem.Status.LEASED:
        raise UndoRefused("You hold a lead's item: finish or release it on the lead's screen.")
    item = ReviewItem.objects.select_for_update().get(pk=label.item_id)
    why = _moved_on(label, item)
    if why is not None:
        raise UndoRefused(f"Too late to undo: {why}. Ask a lead if your label was wrong.")
    now = timezone.now()  # after the locks
    events = []
    if held is not None:
        held.outcome = Lease.Outcome.EXPIRED
        held.ended_at = now
        held.save(update_fields=["outcome", "ended_at"])
        ReviewItem.objects.filter(pk=held.item_id).update(
            status=ReviewItem.Status.QUEUED, updated_at=now
        )
        events.append(
            audit_event(
                actor=user,
                verb="item.return",
                target=held.item,
                merchant_id=held.item.merchant_id,
                before={"status": ReviewItem.Status.LEASED},
                after={"status": ReviewItem.Status.QUEUED, "why": "its analyst undid a label"},
            )
        )
    before = {**_content(label), "item_status": item.status}
    label.delete()
    item.status = ReviewItem.Status.LEASED
    item.label_count = max(0, item.label_count - 1)
    item.save(update_fields=["status", "label_count", "updated_at"])
    lease = Lease.objects.create(
        item=item,
        holder=user,
        # What they were shown before, so the screen is the one they decided on.
        score_id=label.lease.score_id,
        claimed_at=now,
        expires_at=now + lease_ttl(),
    )
    events.append(
        audit_event(
            actor=user,
            verb="label.undo",
            target=item,
            merchant_id=item.merchant_id,
            before=before,
            after={"status": item.status, "label_count": item.label_count, "lease": lease.pk},
        )
    )
    audit_record_many(events)
    return Undone(
        lease=lease,
        decision=before["decision"],
        category_slug=before["category"],
        rationale=before["rationale"],
        merchant_name=label.merchant.name,
    )
