"""The sealer: links committed, unsealed audit events into the hash chain, in id order, a
batch per transaction, then writes a checkpoint of the new head outside the database.

One sealer runs at a time: the checkpoint store's lock on one host, and on PostgreSQL a
session advisory lock across hosts (a second sealer finds it held and returns at once; the
beat runs it again in a few seconds). Only the sealer assigns `seq`, inside the transaction
that seals, so positions are gap-free whatever the writers did: a writer that rolled back
left no event, and one that committed late is sealed in the next batch, at the end.

Before sealing, the sealer checks that the chain still ends where the latest checkpoint
says it did. If not (the newest events were deleted, the table truncated, the chain
rewritten), it seals nothing, so that it cannot paper over the damage with new positions,
and records why (an AuditVerification the lead's audit page shows).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import AuditEvent, AuditVerification
from .checkpoints import (
    LINK_DIGITS,
    Checkpoint,
    CheckpointInvalid,
    CheckpointStore,
    checkpoint_store,
    link_of,
)
from .hashing import GENESIS, HASHED, event_hash

log = logging.getLogger(__name__)

# The PostgreSQL advisory lock one sealer holds while it runs ("auditse" in ASCII).
SEAL_LOCK = 0x0061_7564_6974_7365


@dataclass(frozen=True)
class SealResult:
    sealed: int  # events sealed by this run
    head_seq: int  # the chain's last seq afterwards
    checkpoint: Checkpoint | None  # the checkpoint written, if any
    refused: str = ""  # why nothing was sealed, when something stopped it


def sealed_head() -> tuple[int, str]:
    """The chain's last sealed (seq, hash), or (0, GENESIS)."""
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return (int(head[0] or 0), str(head[1])) if head is not None else (0, GENESIS)


def head_disagreement(checkpoint: Checkpoint | None) -> str:
    """Why the stored chain no longer ends where `checkpoint` saw it end ('' if it does)."""
    if checkpoint is None or checkpoint.seq == 0:
        return ""
    stored = AuditEvent.objects.filter(seq=checkpoint.seq).values_list("hash", flat=True).first()
    when = checkpoint.at.isoformat(timespec="seconds")
    if stored is None:
        top, _ = sealed_head()
        return (
            f"the checkpoint of {when} saw the chain end at seq {checkpoint.seq}, and the"
            f" database's chain ends at seq {top}: the newest events were deleted"
        )
    if stored != checkpoint.head:
        return (
            f"the event at seq {checkpoint.seq} no longer has the hash the checkpoint of {when}"
            " recorded: the chain was rewritten"
        )
    return ""


@contextmanager
def _one_sealer() -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True  # SQLite: one writer at a time, and the store's lock covers the host
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SEAL_LOCK])
        held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SEAL_LOCK])


def audit_seal(*, batch_size: int | None = None, max_batches: int = 20) -> SealResult:
    """Seal what is committed and unsealed (up to `max_batches` batches), then checkpoint
    the head: after any seal, and when the last checkpoint is older than
    AUDIT_CHECKPOINT_INTERVAL. Safe to run at any time, from anywhere, twice at once."""
    size = batch_size or settings.AUDIT_SEAL_BATCH
    store = checkpoint_store()
    with store.lock(), _one_sealer() as held:
        if not held:
            return SealResult(0, sealed_head()[0], None, refused="another sealer is running")
        try:
            latest = store.latest()
        except CheckpointInvalid as error:
            return _refuse(f"the latest checkpoint cannot be trusted: {error}")
        head_seq, head = sealed_head()
        if latest is None and head_seq > 0:
            # A store that lost its checkpoints (a volume not mounted, a new directory, a
            # deleted file) must not silently anchor whatever the database now holds.
            return _refuse(
                f"{store.describe()} holds no checkpoint, but the chain has {head_seq} sealed"
                " events: if this store is new on purpose (the first start with checkpoints,"
                " a new key or directory), run manage.py audit_anchor; otherwise the"
                " checkpoints were lost"
            )
        problem = head_disagreement(latest)
        if problem:
            return _refuse(problem)
        if latest is not None and latest.seq < head_seq:
            # Sealed but never checkpointed (the last sealer died, or its store failed):
            # anchor that first, and seal nothing more while the store cannot take it.
            latest = _checkpoint(store, latest.seq + 1, head_seq, head)
        sealed = 0
        for _ in range(max_batches):
            count = _seal_batch(size)
            sealed += count
            if count < size:
                break
        head_seq, head = sealed_head()
        checkpoint = None
        if _due(latest, head_seq):
            from_seq = latest.seq + 1 if latest is not None else 1
            checkpoint = _checkpoint(store, from_seq, head_seq, head)
        return SealResult(sealed, head_seq, checkpoint)


def audit_anchor() -> Checkpoint:
    """Start checkpoints for a chain sealed without them (the first start after an upgrade,
    a new key or directory): the chain's present head becomes the first checkpoint, on an
    operator's word (`manage.py audit_anchor`). Audited."""
    store = checkpoint_store()
    with store.lock(), _one_sealer() as held:
        if not held:
            raise RuntimeError("the sealer is running: try again in a few seconds")
        if store.latest() is not None:
            raise RuntimeError(f"{store.describe()} holds checkpoints already")
        head_seq, head = sealed_head()
        checkpoint = _checkpoint(store, head_seq + 1, head_seq, head)
    with transaction.atomic():
        AuditVerification.objects.create(
            trigger=AuditVerification.Trigger.COMMAND,
            intact=True,
            head_seq=head_seq,
            checkpoints=1,
            checkpoint_seq=head_seq,
            checkpoint_at=checkpoint.at,
            detail=f"checkpoints started at seq {head_seq} in {store.describe()}",
        )
    log.warning("audit checkpoints start here: the chain is anchored at seq %s", head_seq)
    return checkpoint


# What the sealer reads of an event: its id and what the hash covers (not seq: it gives it).
_READ = ("id", *(name for name in HASHED if name != "seq"))


def _seal_batch(size: int) -> int:
    """The next `size` unsealed events, as stored, linked after the head. Read and hashed
    outside a transaction (the sealer is alone: nobody else moves the head), then written in
    a short one: a transaction held open while Python hashes would hold back PostgreSQL's
    clean-up of every table the analysts update (measured: bench/RESULTS.md)."""
    seq, prev_hash = sealed_head()
    unsealed = AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:size]
    rows = []
    for values in unsealed.values_list(*_READ):
        seq += 1
        event = SimpleNamespace(**dict(zip(_READ, values, strict=True)), seq=seq)
        digest = event_hash(event, prev_hash, stored=True)
        rows.append((event.id, seq, prev_hash, digest))
        prev_hash = digest
    with transaction.atomic():
        _write_links(rows)
    return len(rows)


def _write_links(rows: list[tuple[int, int, str, str]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the batch. The row trigger lets each event be sealed once.
            cursor.execute(
                "UPDATE supportability_auditevent AS e"
                " SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])"
                " AS v(id, seq, prev_hash, hash)"
                " WHERE e.id = v.id AND e.seq IS NULL",
                [list(column) for column in zip(*rows, strict=True)],
            )
        else:
            cursor.executemany(
                "UPDATE supportability_auditevent SET seq = %s, prev_hash = %s, hash = %s"
                " WHERE id = %s AND seq IS NULL",
                [(seq, prev, digest, pk) for pk, seq, prev, digest in rows],
            )
        if cursor.rowcount != len(rows) and connection.vendor == "postgresql":
            raise RuntimeError("an event changed under the sealer")


def _due(latest: Checkpoint | None, head_seq: int) -> bool:
    """After a seal, and when the last checkpoint is older than the interval."""
    if latest is None or latest.seq != head_seq:
        return True
    interval = timedelta(seconds=settings.AUDIT_CHECKPOINT_INTERVAL)
    return timezone.now() - latest.at >= interval


def _checkpoint(store: CheckpointStore, from_seq: int, head_seq: int, head: str) -> Checkpoint:
    """Append the checkpoint of the head, with the links of from_seq..head_seq; a store
    that fails raises, and the sealer seals nothing more until it takes one."""
    hashes = (
        AuditEvent.objects.filter(seq__gte=from_seq, seq__lte=head_seq)
        .order_by("seq")
        .values_list("hash", flat=True)
    )
    links = "".join(link_of(str(h)) for h in hashes.iterator(chunk_size=10_000))
    if len(links) != max(0, head_seq - from_seq + 1) * LINK_DIGITS:
        raise RuntimeError(f"the sealed chain has a gap between seq {from_seq} and {head_seq}")
    checkpoint = Checkpoint(
        seq=head_seq, head=head, from_seq=from_seq, links=links, at=timezone.now()
    )
    store.append(checkpoint)
    return checkpoint


def _refuse(problem: str) -> SealResult:
    log.error("audit sealer refused to seal: %s", problem)
    head_seq = sealed_head()[0]
    unsealed = AuditEvent.objects.filter(seq__isnull=True).count()
    with transaction.atomic():
        # The beat retries every few seconds: one record per episode, kept up to date.
        last = AuditVerification.objects.order_by("-finished_at", "-id").first()
        sealer = AuditVerification.Trigger.SEALER
        if last is not None and last.trigger == sealer and last.detail == problem:
            last.finished_at, last.unsealed = timezone.now(), unsealed
            last.save(update_fields=["finished_at", "unsealed"])
            return SealResult(0, head_seq, None, refused=problem)
        AuditVerification.objects.create(
            trigger=AuditVerification.Trigger.SEALER,
            intact=False,
            head_seq=head_seq,
            unsealed=unsealed,
            broken_kind="sealing refused",
            detail=problem,
        )
    return SealResult(0, head_seq, None, refused=problem)
