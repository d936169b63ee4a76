"""Claims are leases: claim the next item, keep it alive with heartbeats, give it back,
or let it lapse (the reaper returns it to the queue)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from supportability.audit import audit_event, audit_record, audit_record_many
from supportability.roles import user_roles

from ..models import Label, Lease, ReviewItem
from ..selectors import queues_open_to
from .claim_sql import QueueRow, held_lease, lease_item, lock_next, open_queues
from .errors import Conflict, LeaseLost

# A skipped item goes back to the queue for colleagues, not straight back to its skipper.
SKIP_COOLDOWN = timedelta(hours=1)
# Concurrent claimers look at this many items at the head of the queue and take the first
# one nobody else is taking (at random among equal priorities), so that they do not all
# queue up behind the same row.
TIE_WINDOW = 32
# Not for security: which of the top few items, and whether to serve gold. Seedable in tests.
chance = random.Random()  # noqa: S311


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.LEASE_SECONDS)


def _claimable(user: Any, queue_ids: list[int], now: datetime) -> QuerySet[ReviewItem]:
    """Queued items in the given queues that `user` has neither labelled nor just skipped."""
    labelled = Label.objects.filter(item=OuterRef("pk"), analyst=user)
    skipped = Lease.objects.filter(
        item=OuterRef("pk"),
        holder=user,
        outcome=Lease.Outcome.RELEASED,
        ended_at__gt=now - SKIP_COOLDOWN,
    )
    return ReviewItem.objects.filter(
        status=ReviewItem.Status.QUEUED, queue_id__in=queue_ids
    ).filter(~Exists(labelled), ~Exists(skipped))


def _lock_next(candidates: QuerySet[ReviewItem]) -> ReviewItem | None:
    """SQLite's claim: the transaction is IMMEDIATE (settings), so claims are serialised and
    the head of the queue is simply the next item. (PostgreSQL: claim_sql.lock_next.)"""
    return (
        candidates.order_by("-priority", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )


def _lock_gold(user: Any, queue_id: int, now: datetime) -> ReviewItem | None:
    candidates = _claimable(user, [queue_id], now).filter(gold__isnull=False)
    return candidates.select_for_update(skip_locked=True, of=("self",)).order_by("?").first()


def _open_queues(user: Any, queue: str | None) -> dict[int, QueueRow]:
    if connection.vendor == "postgresql":
        rows = open_queues(user.pk)
    else:
        rows = [QueueRow(q.pk, q.slug, q.gold_rate, q.required_role) for q in queues_open_to(user)]
    roles = user_roles(user)
    return {
        q.id: q
        for q in rows
        if (queue is None or q.slug == queue) and (not q.required_role or q.required_role in roles)
    }


def _held(user: Any) -> Lease | None:
    if connection.vendor == "postgresql":
        return held_lease(user.pk)
    return (
        Lease.objects.select_for_update(of=("self",))
        .filter(holder=user, outcome=Lease.Outcome.ACTIVE)
        .first()
    )


@transaction.atomic
def item_claim(*, user: Any, queue: str | None = None) -> Lease | None:
    """Lease the next item to `user`: the highest-priority queued item, in a queue open to
    them (or the one named), that they have neither labelled nor skipped in the last hour;
    now and then (the queue's gold rate) a gold item instead, which looks like any other.
    An analyst holding a live lease gets it back: one item at a time, so two tabs cannot
    hoard the queue. None when nothing is available. PostgreSQL runs the same rules in plain
    SQL (claim_sql.py): this is the hottest path of the app."""
    now = timezone.now()
    held = _held(user)
    if held is not None:
        lead_work = _lead_work(held)
        if lead_work and held.expires_at > now:
            raise Conflict(
                "You hold a lead's item (an adjudication, sign-off or audit): finish or"
                " release it on the lead's screen first."
            )
        if held.expires_at > now:
            return held
        leases_lapse([held], now=now)  # their own lapsed lease: no need to wait for the reaper
    queues = _open_queues(user, queue)
    if not queues:
        return None
    if connection.vendor == "postgresql":
        row = lock_next(
            user_id=user.pk, queue_ids=list(queues), cooldown=now - SKIP_COOLDOWN, window=TIE_WINDOW
        )
        picked = (row.id, row.queue_id) if row else None
    else:
        item = _lock_next(_claimable(user, list(queues), now).filter(gold__isnull=True))
        picked = (item.pk, item.queue_id) if item else None
    if picked is None:
        return None
    item_id, queue_id = picked
    gold_rate = queues[queue_id].gold_rate
    if gold_rate > 0 and chance.random() < gold_rate:
        # The regular item stays queued: our lock on it ends with this transaction.
        gold = _lock_gold(user, queue_id, now)
        item_id = gold.pk if gold is not None else item_id
    now = timezone.now()  # after the lock: leases of one item never overlap in time
    try:
        with transaction.atomic():
            return _lease(user, item_id, now)
    except IntegrityError:
        # The same analyst claimed in another tab at the same moment; the database allows
        # one active lease per analyst, so hand back that one.
        return Lease.objects.get(holder=user, outcome=Lease.Outcome.ACTIVE)


def _lead_work(lease: Lease) -> bool:
    """Whether a lease is a lead's (on an escalated, sign-off or audited item) rather than
    an analyst's on a queued item. Leads use the same leases; only analysts' leases lease
    the item."""
    status = ReviewItem.objects.filter(pk=lease.item_id).values_list("status", flat=True).first()
    return status != ReviewItem.Status.LEASED


def _lease(user: Any, item_id: int, now: datetime) -> Lease:
    if connection.vendor == "postgresql":
        return lease_item(
            item_id=item_id, user_id=user.pk, username=user.get_username(), now=now, ttl=lease_ttl()
        )
    item = ReviewItem.objects.get(pk=item_id)
    item.status = ReviewItem.Status.LEASED
    item.save(update_fields=["status", "updated_at"])
    lease = Lease.objects.create(
        item=item, holder=user, score_id=item.score_id, claimed_at=now, expires_at=now + lease_ttl()
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


def live_lease(*, user: Any, item_id: int, lease_token: Any) -> Lease:
    """The caller's live lease on the item, locked with its item; LeaseLost otherwise."""
    lease = (
        Lease.objects.select_for_update(of=("self", "item"))
        .select_related("item", "score", "item__gold", "item__merchant")
        .filter(token=lease_token, item_id=item_id)
        .first()
    )
    if lease is None:
        raise LeaseLost("No lease with that token on this item: claim the item first.")
    check_live(
        holder_id=lease.holder_id, outcome=lease.outcome, expires_at=lease.expires_at, user=user
    )
    return lease


def check_live(*, holder_id: int, outcome: str, expires_at: datetime, user: Any) -> None:
    """Only the holder of an active, unexpired lease may act on its item. Call it once the
    lease is locked: the time is taken here, after any wait for the lock."""
    if holder_id != user.pk:
        raise LeaseLost("This item is leased to another analyst.")
    if outcome != Lease.Outcome.ACTIVE:
        raise LeaseLost(f"Your lease on this item has ended ({outcome}): claim again.")
    if expires_at <= timezone.now():
        raise LeaseLost("Your lease on this item has expired: claim again.")


@transaction.atomic
def lease_heartbeat(*, user: Any, item_id: int, lease_token: Any) -> Lease:
    """Extend a live lease by the lease time (the review screen calls this while open)."""
    lease = live_lease(user=user, item_id=item_id, lease_token=lease_token)
    before = _iso(lease)
    lease.expires_at = timezone.now() + lease_ttl()
    lease.save(update_fields=["expires_at"])
    audit_record(
        actor=user,
        verb="lease.heartbeat",
        target=lease,
        merchant_id=lease.item.merchant_id,
        before={"expires_at": before},
        after={"expires_at": _iso(lease)},
    )
    return lease


@transaction.atomic
def lease_release(*, user: Any, item_id: int, lease_token: Any) -> ReviewItem:
    """Give an item back (skip): it returns to the queue at once, the skip recorded."""
    lease = live_lease(user=user, item_id=item_id, lease_token=lease_token)
    if lease.item.status != ReviewItem.Status.LEASED:
        raise LeaseLost("This lease is a lead's: release it on the lead's screen.")
    now = timezone.now()  # after the lock
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


def leases_lapse(leases: list[Lease], *, now: datetime) -> None:
    """End leases that ran out. An analyst's item returns to the queue; a lead's item
    (escalated, awaiting sign-off, or done and drawn for audit) keeps its status and is
    free for the next lead."""
    # Lock the items in id order first, as every multi-row lock on items does.
    statuses = dict(
        ReviewItem.objects.select_for_update()
        .filter(id__in=[lease.item_id for lease in leases])
        .order_by("pk")
        .values_list("pk", "status")
    )
    Lease.objects.filter(id__in=[lease.pk for lease in leases]).update(
        outcome=Lease.Outcome.EXPIRED, ended_at=now
    )
    ReviewItem.objects.filter(
        id__in=[lease.item_id for lease in leases], status=ReviewItem.Status.LEASED
    ).update(status=ReviewItem.Status.QUEUED, updated_at=now)
    audit_record_many(
        audit_event(
            actor=None,
            verb="lease.expire",
            target=lease.item,
            merchant_id=lease.item.merchant_id,
            before={"status": statuses[lease.item_id], "lease": str(lease.token)},
            after={"status": _after_lapse(statuses[lease.item_id])},
        )
        for lease in leases
    )


def _after_lapse(status: str) -> str:
    return ReviewItem.Status.QUEUED if status == ReviewItem.Status.LEASED else status


@transaction.atomic
def leases_expire(*, now: datetime | None = None, batch: int = 1_000) -> int:
    """Return items whose lease ran out to the queue (the beat reaper calls this). Leases a
    concurrent label or heartbeat holds are skipped, not waited on: the next run gets them."""
    now = now or timezone.now()
    expired = list(
        Lease.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("item")
        .filter(outcome=Lease.Outcome.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")[:batch]
    )
    if expired:
        leases_lapse(expired, now=now)
    return len(expired)
