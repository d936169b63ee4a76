"""Verifying the audit chain: every sealed event present, unchanged and in its place, no
seq missing, and the chain agreeing with the checkpoints kept outside the database.

Without checkpoints the table can only vouch for itself: a rewrite of the chain with fresh
hashes, or the deletion of its newest events, leaves a chain that is consistent. With them,
each seq the checkpoints cover must carry the fingerprint they recorded, and the chain must
reach the latest checkpoint's seq with its head.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from ..models import AuditEvent
from .checkpoints import Checkpoint, CheckpointInvalid, CheckpointStore, link_of
from .hashing import GENESIS, HASHED, event_hash

# Verification


EDITED = "edited"
DELETED = "deleted"
REORDERED = "reordered"
REWRITTEN = "rewritten"  # consistent in itself, but not the chain the checkpoints saw
CHECKPOINT = "checkpoint"  # a checkpoint record that is not one this key signed, or missing


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: `kind` is EDITED (the event's content no longer matches its
    hash), DELETED (seq skips, the event's prev_hash matches no event, or the chain ends
    before the latest checkpoint's seq), REORDERED (the event sits at another position than
    the one it was written at), REWRITTEN (the event's hash is not the one the checkpoints
    recorded for its seq) or CHECKPOINT (the checkpoint file itself was altered); `seq` is
    the first bad position and `event_id` the event found there (for a deletion, the event
    after the gap, if any)."""

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
    checkpoints: int = 0  # checkpoint records checked
    checkpoint: Checkpoint | None = None  # the latest one read

    @property
    def intact(self) -> bool:
        return self.broken is None


def chain_verify(
    *,
    from_seq: int = 1,
    chunk_size: int = 2_000,
    checkpoints: Iterable[Checkpoint] | None = None,
    checkpoints_until: int | None = None,
) -> ChainReport:
    """Walk the sealed chain in seq order (a server-side cursor on PostgreSQL), recompute
    every hash, compare each with the `checkpoints` (in file order, as the store reads them)
    and report the first broken link. From `from_seq` > 1, the event before it is trusted
    as the anchor. Unsealed events are not the chain's yet and are not walked.

    The walk reads the chain as it was when it started, and the checkpoints as the sealer
    keeps appending them: give `checkpoints_until`, the latest checkpoint's seq read before
    the walk (`verify_against_store`), so that one written meanwhile is not taken for a
    chain that lost its newest events."""
    events = AuditEvent.objects.filter(seq__isnull=False).order_by("seq")
    expected, prev_hash = 1, GENESIS
    if from_seq > 1:
        anchor = AuditEvent.objects.filter(seq=from_seq - 1).values_list("hash", flat=True)
        if not anchor:
            detail = f"no event at seq {from_seq - 1} to start from"
            return ChainReport(0, 0, "", ChainBreak(DELETED, from_seq - 1, None, detail))
        expected, prev_hash = from_seq, str(anchor[0])
        events = events.filter(seq__gte=from_seq)
    count = 0
    anchors = _Anchors((), None)
    try:
        anchors = _Anchors(checkpoints or (), checkpoints_until)
        for event in events.iterator(chunk_size=chunk_size):
            broken = _check(event, expected, prev_hash) or anchors.check(event)
            if broken is not None:
                return anchors.report(count, expected - 1, prev_hash, broken)
            count += 1
            expected, prev_hash = int(event.seq or 0) + 1, str(event.hash)
        broken = anchors.check_end(expected - 1)
    except CheckpointInvalid as error:
        broken = ChainBreak(CHECKPOINT, 0, None, str(error))
    return anchors.report(count, expected - 1, prev_hash, broken)


class _Anchors:
    """The checkpoints, read alongside the chain (both in seq order: memory stays flat)."""

    def __init__(self, checkpoints: Iterable[Checkpoint], until: int | None) -> None:
        self.records: Iterator[Checkpoint] = iter(checkpoints)
        self.until = until
        self.current: Checkpoint | None = None
        self.latest: Checkpoint | None = None
        self.vouched = 0  # the last seq an earlier record vouched for
        self.read = 0
        self._advance()

    def _advance(self) -> None:
        following = next(self.records, None)
        if following is not None and self.until is not None and following.seq > self.until:
            following = None  # written after the walk began
        if following is not None:
            if self.current is not None and following.from_seq != self.current.seq + 1:
                raise CheckpointInvalid(
                    following.line,
                    f"starts at seq {following.from_seq}, but the record before it ended at"
                    f" seq {self.current.seq}: a record between them is missing",
                )
            self.read += 1
            self.latest = following
        if self.current is not None:
            self.vouched = self.current.seq
        self.current = following

    def check(self, event: AuditEvent) -> ChainBreak | None:
        seq = int(event.seq or 0)
        while self.current is not None and self.current.seq < seq:
            self._advance()
        record = self.current
        if record is None:
            return None
        when = record.at.isoformat(timespec="seconds")
        link = record.link(seq)
        if link is not None and link != link_of(str(event.hash)):
            detail = (
                f"event {event.pk} (seq {seq}) is not the event the checkpoint of {when}"
                " recorded at this seq: the chain was rewritten from here"
            )
            return ChainBreak(REWRITTEN, seq, event.pk, detail)
        if seq == record.seq and event.hash != record.head:
            detail = (
                f"the chain's hash at seq {seq} differs from the head the checkpoint of {when}"
                " recorded: the chain up to here was rewritten"
            )
            return ChainBreak(REWRITTEN, self.vouched + 1, event.pk, detail)
        return None

    def check_end(self, head_seq: int) -> ChainBreak | None:
        """After the walk: the chain must reach the latest checkpoint."""
        while self.current is not None:
            if self.current.seq > head_seq:
                when = self.current.at.isoformat(timespec="seconds")
                last = f"at seq {head_seq}" if head_seq else "before seq 1 (it is empty)"
                detail = (
                    f"the checkpoint of {when} saw the chain reach seq {self.current.seq}, and"
                    f" it ends {last}: the newest events were deleted or the table truncated"
                )
                return ChainBreak(DELETED, head_seq + 1, None, detail)
            self._advance()
        return None

    def report(
        self, count: int, head_seq: int, head: str, broken: ChainBreak | None
    ) -> ChainReport:
        return ChainReport(count, head_seq, head, broken, self.read, self.latest)


def _check(event: AuditEvent, expected: int, prev_hash: str) -> ChainBreak | None:
    seq = int(event.seq or 0)  # the walk reads sealed events only
    where = f"event {event.pk} (seq {seq})"
    if seq > expected:
        gap = f"seq {expected}" if seq == expected + 1 else f"seqs {expected}-{seq - 1}"
        return ChainBreak(DELETED, expected, event.pk, f"{gap} missing before {where}")
    if seq < expected:
        detail = f"{where} where seq {expected} was expected"
        return ChainBreak(REORDERED, seq, event.pk, detail)
    sealed = event_hash(event, str(event.prev_hash), stored=True) == event.hash
    if event.prev_hash == prev_hash:
        if sealed:
            return None
        written_at = _written_at(event)
        if written_at is not None:
            detail = f"{where} holds the content written at seq {written_at}"
            return ChainBreak(REORDERED, seq, event.pk, detail)
        detail = f"{where}: its content does not match its hash"
        return ChainBreak(EDITED, seq, event.pk, detail)
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
            f" not after seq {seq - 1}"
        )
        return ChainBreak(REORDERED, seq, event.pk, detail)
    detail = (
        f"{where}: its prev_hash matches no event: the event written before it was deleted"
        " (and later seqs renumbered) or rewritten"
    )
    return ChainBreak(DELETED, seq, event.pk, detail)


def _written_at(event: AuditEvent) -> int | None:
    """The later position whose link this event's content seals, if any: an event whose
    content was swapped with another's."""
    content = {name: getattr(event, name) for name in HASHED}
    later = AuditEvent.objects.filter(seq__gt=event.seq).order_by("seq")
    for seq, prev, stored in later.values_list("seq", "prev_hash", "hash").iterator():
        if event_hash(SimpleNamespace(**(content | {"seq": seq})), str(prev)) == stored:
            return int(seq or 0)
    return None


def verify_against_store(
    store: CheckpointStore, *, from_seq: int = 1, chunk_size: int = 2_000
) -> ChainReport:
    """The chain against every checkpoint in `store`, bounded by the latest one as the walk
    starts (a store whose last line is bad reports it as it reads it)."""
    try:
        latest = store.latest()
    except CheckpointInvalid:
        latest = None
    until = latest.seq if latest is not None else None
    return chain_verify(
        from_seq=from_seq,
        chunk_size=chunk_size,
        checkpoints=store.records(),
        checkpoints_until=until,
    )
