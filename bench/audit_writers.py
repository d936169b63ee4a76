"""The audit writers bench/audit.py compares, installed in an analyst process by name
(BENCH_AUDIT_WRITER, read by bench/queue_analysts):

- "sealed": the product's writer: the claim's and the label's events inserted unsealed
  inside their own statements (labeling/services/claim_sql.py, label_sql.py); the bench runs
  the sealer beside the analysts.
- "plain": the same inserts with no sealer running: what the chain adds on top of them is
  the sealer's work alone.
- "lock": the writer the chain had before sealing (until commit d108a99), emulated: the
  events leave the statements and are appended after them under an advisory lock held to
  commit, with the head read and the hash in Python (the claim's event without its merchant:
  the statement no longer hands it over).
- "none": no audit write at all, for the whole audit trail's cost.
"""

from __future__ import annotations

import re
from typing import Any

CHAIN_LOCK = 0x0061_7564_6974_6368
_LOCK_AND_HEAD = (
    f"SELECT pg_advisory_xact_lock({CHAIN_LOCK});"
    " SELECT seq, hash FROM supportability_auditevent WHERE seq IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)


def _locked_append(events: list[Any]) -> None:
    from django.db import connection, transaction

    from supportability.audit.hashing import GENESIS, event_hash
    from supportability.models import AuditEvent

    if not events:
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_LOCK_AND_HEAD)
        cursor.nextset()
        head = cursor.fetchone()
        seq, prev_hash = head if head is not None else (0, GENESIS)
        for event in events:
            seq += 1
            event.seq = seq
            event.prev_hash = prev_hash
            event.hash = prev_hash = event_hash(event, prev_hash)
        AuditEvent.objects.bulk_create(events, batch_size=1_000)


def _without_audit(sql: str) -> str:
    """The statement without its `audit AS (...)` insert."""
    stripped = re.sub(r"    \), audit AS \(\n.*?\n    \)\n", "    )\n", sql, flags=re.S)
    if stripped == sql:
        raise ValueError("no audit insert found in the statement")
    return stripped


def _events_outside_statements(append: Any) -> None:
    """The claim's and the label's statements without their audit insert; `append` writes
    their events after them instead."""
    from labeling.services import claim_sql, claims, label_sql, labels
    from supportability.models import AuditEvent

    claim_sql.LEASE = _without_audit(claim_sql.LEASE)
    label_sql.RECORD = _without_audit(label_sql.RECORD)
    lease_item, record = claim_sql.lease_item, label_sql.record

    def lease_then_audit(**kwargs: Any) -> Any:
        lease = lease_item(**kwargs)
        event = {"status": "leased", "lease": str(lease.token)}
        append(
            [
                AuditEvent(
                    actor_id=kwargs["user_id"],
                    actor_label=kwargs["username"],
                    verb="item.claim",
                    object_type="labeling.reviewitem",
                    object_id=str(lease.item_id),
                    before={"status": "queued"},
                    after=event,
                    created_at=kwargs["now"],
                )
            ]
        )
        return lease

    def record_then_audit(**values: Any) -> int:
        label_id = record(**values)
        append(
            [
                AuditEvent(
                    actor_id=values["user"],
                    actor_label=values["username"],
                    verb="label.submit",
                    object_type="labeling.label",
                    object_id=str(label_id),
                    merchant_id=values["merchant"],
                    before=values["before"],
                    after=values["after"],
                    created_at=values["now"],
                )
            ]
        )
        return label_id

    claims.lease_item = lease_then_audit  # type: ignore[assignment]
    labels.label_sql.record = record_then_audit  # type: ignore[assignment]


def install(name: str) -> None:
    import supportability.audit as audit

    if name == "lock":
        audit._append = _locked_append  # type: ignore[assignment]
        _events_outside_statements(_locked_append)
    elif name == "none":
        audit._append = lambda events: None  # type: ignore[assignment]
        _events_outside_statements(lambda events: None)
    elif name not in {"sealed", "plain"}:
        raise ValueError(f"unknown audit writer {name!r}")
