"""The audit trail: one append-only event for every state change, written inside the
transaction of the change it records.

The trail is tamper-evident without a lock on the writers' path (docs/decisions/
0004-audit-sealing.md):

- writing (here): a service inserts its events unsealed, in its own transaction. Nothing is
  read first and nothing is locked, so writers never wait on each other.
- sealing (`sealing.audit_seal`, a beat task every few seconds): one sealer takes the
  committed unsealed events in id order and links them into a hash chain: a gap-free
  position `seq` (1, 2, 3, ...), the hash of the event before (`prev_hash`, 64 zeros for the
  first) and its own `hash` over `prev_hash` and the event's content (`hashing.event_hash`).
  A row trigger on PostgreSQL lets an event be sealed once and never changed otherwise.
- anchoring (`checkpoints`): after every seal, and at least every few minutes, the chain's
  head and a fingerprint of each event just sealed go to an append-only, HMAC-signed
  JSON-lines file outside the database, under a key the database never holds.
- verifying (`verification.chain_verify`, `manage.py verify_audit`): every sealed event is
  present, unchanged and in place, no seq is missing, and the chain agrees with the
  checkpoints: an edit, a deletion, a truncation, a deleted tail or a rewritten chain names
  its first bad seq.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from ..models import AuditEvent
from .hashing import GENESIS, HASHED, event_hash
from .verification import ChainBreak, ChainReport, chain_verify

__all__ = [
    "AUDIT_INSERT",
    "GENESIS",
    "HASHED",
    "ChainBreak",
    "ChainReport",
    "audit_event",
    "audit_record",
    "audit_record_many",
    "chain_verify",
    "event_hash",
]


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
    _append([event])
    return event


def audit_record_many(events: Iterable[AuditEvent]) -> None:
    """Write the events of a bulk change, in order, in one statement per batch."""
    _append(list(events))


# What a hot path in plain SQL embeds in its statement to write its event unsealed, as
# `_append` does (labeling/services/claim_sql.py, label_sql.py): saves a round trip.
AUDIT_INSERT = (
    "INSERT INTO supportability_auditevent (actor_id, actor_label, verb, object_type,"
    " object_id, merchant_id, before, after, created_at)"
)


def _append(events: list[AuditEvent]) -> None:
    """Insert unsealed events: one INSERT, no lock, no read. Their order within a call is
    their id order, which the sealer keeps."""
    if not events:
        return
    if any(event.pk is not None or event.seq is not None for event in events):
        raise TypeError("audit events are appended once, unsealed")
    with transaction.atomic(savepoint=False):
        AuditEvent.objects.bulk_create(events, batch_size=1_000)
