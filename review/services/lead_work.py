"""Leads claim their work like analysts do, with the same leases: an escalated item to
adjudicate, an adjudication awaiting a second lead's sign-off, or a single label drawn for
QA audit. The database's one-active-lease-per-item constraint makes duplicates impossible;
unlike an analyst's lease, a lead's lease leaves the item's status as it is."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from labeling.models import Label, Lease, ReviewItem
from labeling.services import lease_ttl, leases_lapse
from labeling.services.claims import live_lease
from supportability.audit import audit_record
from supportability.roles import Role, has_role

from ..models import Adjudication, QaAudit
from .errors import Conflict, LeaseLost, NotAllowed

# How many candidates a claim tries when another lead takes the first at the same moment.
CLAIM_ATTEMPTS = 5


class Work(StrEnum):
    ADJUDICATE = "adjudicate"
    SIGNOFF = "signoff"
    AUDIT = "audit"


def require_lead(user: Any) -> None:
    if not has_role(user, Role.LEAD):
        raise NotAllowed("Only team leads adjudicate, sign off and audit.")


def work_of(lease: Lease) -> Work | None:
    """What a lead's lease is for; None for an analyst's lease on a queued item."""
    status = lease.item.status
    if status == ReviewItem.Status.ESCALATED:
        return Work.ADJUDICATE
    if status == ReviewItem.Status.SIGNOFF:
        return Work.SIGNOFF
    if QaAudit.objects.filter(lease=lease, status=QaAudit.Status.PENDING).exists():
        return Work.AUDIT
    return None


def _unheld() -> Q:
    return ~Q(Exists(Lease.objects.filter(item=OuterRef("pk"), outcome=Lease.Outcome.ACTIVE)))


def _not_labelled_by(user: Any) -> Q:
    return ~Q(Exists(Label.objects.filter(item=OuterRef("pk"), analyst=user)))


def _candidates(user: Any, work: Work) -> QuerySet[ReviewItem]:
    """Items open to this lead for this work, best first. Maker-checker is part of the
    query: a lead never gets an item they labelled, nor a sign-off of their own decision."""
    items = ReviewItem.objects.filter(_unheld())
    if work is Work.ADJUDICATE:
        return items.filter(_not_labelled_by(user), status=ReviewItem.Status.ESCALATED).order_by(
            "-priority", "id"
        )
    if work is Work.SIGNOFF:
        own = Adjudication.objects.filter(
            item=OuterRef("pk"), status=Adjudication.Status.AWAITING_SIGNOFF, lead=user
        )
        return items.filter(
            _not_labelled_by(user), ~Exists(own), status=ReviewItem.Status.SIGNOFF
        ).order_by("updated_at", "id")
    pending = QaAudit.objects.filter(item=OuterRef("pk"), status=QaAudit.Status.PENDING).exclude(
        analyst=user
    )
    return items.filter(Exists(pending), status=ReviewItem.Status.DONE).order_by("id")


def _held(user: Any) -> Lease | None:
    return (
        Lease.objects.select_for_update(of=("self",))
        .select_related("item")
        .filter(holder=user, outcome=Lease.Outcome.ACTIVE)
        .first()
    )


@transaction.atomic
def _lapse_own(user: Any) -> None:
    """End the caller's own lapsed lease, in its own transaction: its audit event takes the
    chain lock, which must be the last lock a transaction takes."""
    held = _held(user)
    if held is not None and held.expires_at <= timezone.now():
        leases_lapse([held], now=timezone.now())


def lead_claim(*, user: Any, work: Work) -> Lease | None:
    """Lease the next item of this kind of work to a lead, or hand back the lead item they
    already hold (one item at a time, as for analysts). None when there is nothing to do."""
    require_lead(user)
    _lapse_own(user)
    with transaction.atomic():
        return _claim(user, work)


def _claim(user: Any, work: Work) -> Lease | None:
    held = _held(user)
    if held is not None:
        if work_of(held) is None:
            raise Conflict("You hold an item in the review queue: label or skip it there first.")
        return held
    for _ in range(CLAIM_ATTEMPTS):
        # One row at a time, each attempt a fresh statement: a row another lead is taking
        # is skipped, not waited on, and never kept from a third lead.
        item = _candidates(user, work).select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            return None
        try:
            with transaction.atomic():
                return _lease(user, item, work)
        except IntegrityError:
            # Either another lead leased this item between our read and our insert (the
            # partial unique index refused a second lease; the next attempt no longer sees
            # it), or this lead claimed in another tab at the same moment: hand that back.
            mine = _held(user)
            if mine is not None:
                return mine
    return None


def _lease(user: Any, item: ReviewItem, work: Work) -> Lease:
    now = timezone.now()
    lease = Lease.objects.create(
        item=item, holder=user, score_id=item.score_id, claimed_at=now, expires_at=now + lease_ttl()
    )
    if work is Work.AUDIT:
        QaAudit.objects.filter(item=item, status=QaAudit.Status.PENDING).update(lease=lease)
    audit_record(
        actor=user,
        verb=f"lead.claim.{work}",
        target=item,
        merchant_id=item.merchant_id,
        before={"status": item.status},
        after={"status": item.status, "lease": str(lease.token), "work": str(work)},
    )
    return lease


def lead_lease(*, user: Any, item_id: int, lease_token: Any) -> Lease:
    """The lead's live lease on the item, locked with the item; LeaseLost otherwise."""
    require_lead(user)
    lease = live_lease(user=user, item_id=item_id, lease_token=lease_token)
    if lease.item.status == ReviewItem.Status.LEASED:
        raise LeaseLost("This lease is an analyst's, on a queued item.")
    return lease


def lease_finish(lease: Lease) -> None:
    """End a lead's lease once its work is recorded."""
    lease.outcome = Lease.Outcome.LABELLED
    lease.ended_at = timezone.now()
    lease.save(update_fields=["outcome", "ended_at"])


@transaction.atomic
def lead_release(*, user: Any, item_id: int, lease_token: Any) -> ReviewItem:
    """Give a lead's item back undecided; it stays where it was for the next lead."""
    lease = lead_lease(user=user, item_id=item_id, lease_token=lease_token)
    lease.outcome = Lease.Outcome.RELEASED
    lease.ended_at = timezone.now()
    lease.save(update_fields=["outcome", "ended_at"])
    item = lease.item
    audit_record(
        actor=user,
        verb="lead.release",
        target=item,
        merchant_id=item.merchant_id,
        before={"status": item.status, "lease": str(lease.token)},
        after={"status": item.status},
    )
    return item


def lead_work_counts(user: Any) -> dict[str, int]:
    """How much of each kind of work is open to this lead right now."""
    return {str(work): _candidates(user, work).count() for work in Work}
