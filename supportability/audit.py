"""The audit trail: one append-only event for every state change, written inside the
transaction of the change it records.

The trail is a hash chain. Each event has a position `seq` (1, 2, 3, ...), the hash of the
event before it (`prev_hash`, 64 zeros for the first) and its own `hash`: sha256 over
`prev_hash` and the canonical JSON of its content (`event_hash`). Editing, deleting or
reordering an event breaks the chain from that event on, and `chain_verify` (`manage.py
verify_audit`) says where. Rewriting the whole tail with fresh hashes is not detectable from
the table alone: keep the head hash the command prints somewhere else to detect that.

Appending takes the chain lock, reads the head and inserts; the lock is held to the end of
the caller's transaction, so audit writes are serialised: keep them the last statement of a
service.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db import connection, models, transaction

from .models import AuditEvent

GENESIS = "0" * 64
# The key of the PostgreSQL advisory lock that serialises appends ("auditch" in ASCII).
CHAIN_LOCK = 0x0061_7564_6974_6368
# The fields the hash covers, besides the previous hash.
HASHED = (
    "seq",
    "actor_id",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "merchant_id",
    "before",
    "after",
    "created_at",
)


def _canonical_json(value: Any) -> Any:
    """The value as the database gives it back. json turns tuples into lists and keys into
    strings; PostgreSQL's jsonb keeps numbers as decimals and prints an integral float in
    full (1e16 comes back as the int 10000000000000000, -0.0 as 0.0): so integral floats
    hash as the integer they are. Other floats round-trip exactly."""
    value = json.loads(json.dumps(value))

    def numbers(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: numbers(x) for k, x in v.items()}
        if isinstance(v, list):
            return [numbers(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(Decimal(repr(v)))
        return v

    return numbers(value)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit events need an aware created_at")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: Any, prev_hash: str) -> str:
    """The chain hash of `event` (anything with the HASHED attributes: an AuditEvent, or a
    migration's historical one) following `prev_hash`. Pure: values read back from the
    database hash the same as the values written."""
    content = {name: getattr(event, name) for name in HASHED}
    content["before"] = _canonical_json(content["before"])
    content["after"] = _canonical_json(content["after"])
    content["created_at"] = _utc(content["created_at"])
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def audit_event(
    *,
    actor: Any,
    verb: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    merchant_id: int | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """An unsaved event: `actor` is a user, or None / an anonymous user for the system."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=user,
        actor_label=actor_label or (user.get_username() if user is not None else "system"),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        merchant_id=merchant_id,
        before=before,
        after=after,
    )


def audit_record(**fields: Any) -> AuditEvent:
    """Write one audit event (arguments as `audit_event`). Call it inside the service's
    transaction, so that the event exists if and only if the change does."""
    event = audit_event(**fields)
    chain_append([event])
    return event


def audit_record_many(events: Iterable[AuditEvent]) -> None:
    """Write the events of a bulk change, in order, in one statement per batch."""
    chain_append(list(events))


_HEAD = "SELECT seq, hash FROM supportability_auditevent ORDER BY seq DESC LIMIT 1"
# Two statements in one round trip (no parameters, so psycopg sends them as one simple
# query): the head read must be a statement of its own, started once the lock is granted,
# to see the last holder's commit (a READ COMMITTED statement reads the snapshot of its start).
_LOCK_AND_HEAD = f"SELECT pg_advisory_xact_lock({CHAIN_LOCK}); {_HEAD}"


def chain_append(events: Sequence[AuditEvent]) -> None:
    """Link unsaved events to the chain, in order, and insert them.

    On PostgreSQL an advisory lock serialises appends from here to the end of the caller's
    transaction; the writers queue on it, so keep the audit write a service's last. SQLite
    needs no lock: the project's transactions are IMMEDIATE, so a writer holds the database
    from BEGIN. A caller outside a transaction gets one here, or the lock would end with the
    statement."""
    if not events:
        return
    if any(event.pk is not None for event in events):
        raise TypeError("audit events are never updated")
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_LOCK_AND_HEAD)
            cursor.nextset()
        else:
            cursor.execute(_HEAD)
        head = cursor.fetchone()
        seq, prev_hash = head if head is not None else (0, GENESIS)
        for event in events:
            seq += 1
            event.seq = seq
            event.prev_hash = prev_hash
            event.hash = prev_hash = event_hash(event, prev_hash)
        AuditEvent.objects.bulk_create(events, batch_size=1_000)


# Verification


EDITED = "edited"
DELETED = "deleted"
REORDERED = "reordered"


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: `kind` is EDITED (the event's content no longer matches its
    hash), DELETED (seq skips, or the event's prev_hash matches no event) or REORDERED (the
    event sits at another position than the one it was written at); `seq` is the position
    where the chain breaks and `event_id` the event found there (for a deletion, the event
    after the gap)."""

    kind: str
    seq: int
    event_id: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    events: int  # events verified (before the break, if any)
    head_seq: int  # the last verified event's seq, and its hash
    head: str
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def chain_verify(*, from_seq: int = 1, chunk_size: int = 2_000) -> ChainReport:
    """Walk the chain in seq order (a server-side cursor on PostgreSQL), recompute every
    hash and report the first broken link. From `from_seq` > 1, the event before it is
    trusted as the anchor."""
    events = AuditEvent.objects.order_by("seq")
    expected, prev_hash = 1, GENESIS
    if from_seq > 1:
        anchor = AuditEvent.objects.filter(seq=from_seq - 1).values_list("hash", flat=True)
        if not anchor:
            detail = f"no event at seq {from_seq - 1} to start from"
            return ChainReport(0, 0, "", ChainBreak(DELETED, from_seq - 1, None, detail))
        expected, prev_hash = from_seq, anchor[0]
        events = events.filter(seq__gte=from_seq)
    count = 0
    for event in events.iterator(chunk_size=chunk_size):
        broken = _check(event, expected, prev_hash)
        if broken is not None:
            return ChainReport(count, expected - 1, prev_hash, broken)
        count += 1
        expected, prev_hash = event.seq + 1, event.hash
    return ChainReport(count, expected - 1, prev_hash)


def _check(event: AuditEvent, expected: int, prev_hash: str) -> ChainBreak | None:
    where = f"event {event.pk} (seq {event.seq})"
    if event.seq > expected:
        gap = f"seq {expected}" if event.seq == expected + 1 else f"seqs {expected}-{event.seq - 1}"
        return ChainBreak(DELETED, expected, event.pk, f"{gap} missing before {where}")
    if event.seq < expected:
        detail = f"{where} where seq {expected} was expected"
        return ChainBreak(REORDERED, event.seq, event.pk, detail)
    sealed = event_hash(event, event.prev_hash) == event.hash
    if event.prev_hash == prev_hash:
        if sealed:
            return None
        written_at = _written_at(event)
        if written_at is not None:
            detail = f"{where} holds the content written at seq {written_at}"
            return ChainBreak(REORDERED, event.seq, event.pk, detail)
        detail = f"{where}: its content does not match its hash"
        return ChainBreak(EDITED, event.seq, event.pk, detail)
    # The link is broken: whose hash does the event's prev_hash name?
    origin = (
        AuditEvent.objects.filter(hash=event.prev_hash)
        .exclude(pk=event.pk)
        .values_list("pk", "seq")
        .first()
    )
    if origin is not None:
        detail = (
            f"{where} was written after event {origin[0]} (now seq {origin[1]}),"
            f" not after seq {event.seq - 1}"
        )
        return ChainBreak(REORDERED, event.seq, event.pk, detail)
    detail = (
        f"{where}: its prev_hash matches no event: the event written before it was deleted"
        " (and later seqs renumbered) or rewritten"
    )
    return ChainBreak(DELETED, event.seq, event.pk, detail)


def _written_at(event: AuditEvent) -> int | None:
    """The later position whose link this event's content seals, if any: an event whose
    content was swapped with another's."""
    content = {name: getattr(event, name) for name in HASHED}
    later = AuditEvent.objects.filter(seq__gt=event.seq).order_by("seq")
    for seq, prev, stored in later.values_list("seq", "prev_hash", "hash").iterator():
        if event_hash(SimpleNamespace(**(content | {"seq": seq})), prev) == stored:
            return int(seq)
    return None
