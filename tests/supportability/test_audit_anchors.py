"""Checkpoints of the audit chain outside the database: what the sealer writes, what the
verifier does with them, and what the sealer does when the chain no longer ends where the
latest checkpoint saw it end. Tampering on PostgreSQL: test_audit_tamper.py."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from supportability.audit import audit_event, audit_record_many, chain_verify
from supportability.audit.checkpoints import (
    FILE_NAME,
    LINK_DIGITS,
    CheckpointInvalid,
    FileCheckpointStore,
    checkpoint_store,
)
from supportability.audit.sealing import _seal_batch, audit_seal
from supportability.audit.verification import CHECKPOINT, DELETED, verify_against_store
from supportability.models import AuditEvent, AuditVerification
from supportability.services.audit_checks import audit_verify
from tests.factories import MerchantFactory

from .tamper import as_owner

pytestmark = pytest.mark.django_db


def _write(n: int) -> None:
    merchant: Any = MerchantFactory()
    audit_record_many(
        audit_event(actor=None, verb="test.step", target=merchant, after={"i": i}) for i in range(n)
    )


def _lines(directory) -> list[dict]:
    return [json.loads(line) for line in (directory / FILE_NAME).read_text().splitlines()]


def test_a_seal_writes_a_signed_checkpoint_of_the_head(_own_checkpoints):
    _write(3)
    result = audit_seal()
    head = AuditEvent.objects.get(seq=3).hash
    assert (result.sealed, result.head_seq, result.checkpoint.head) == (3, 3, head)
    [record] = _lines(_own_checkpoints)
    assert (record["seq"], record["head"], record["from"]) == (3, head, 1)
    hashes = AuditEvent.objects.order_by("seq").values_list("hash", flat=True)
    assert record["links"] == "".join(h[:LINK_DIGITS] for h in hashes)
    assert len(record["mac"]) == 64
    assert checkpoint_store().latest().seq == 3


def test_checkpoints_are_contiguous_across_seals(_own_checkpoints):
    for n in (2, 3, 1):
        _write(n)
        audit_seal()
    assert [(r["from"], r["seq"]) for r in _lines(_own_checkpoints)] == [(1, 2), (3, 5), (6, 6)]
    report = chain_verify(checkpoints=checkpoint_store().records())
    assert report.intact and (report.events, report.checkpoints) == (6, 3)


def test_an_idle_chain_is_checkpointed_again_once_the_interval_passes(_own_checkpoints):
    _write(2)
    audit_seal()
    assert audit_seal().checkpoint is None  # nothing new, and the last one is fresh
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=6)):
        heartbeat = audit_seal().checkpoint
    assert heartbeat is not None
    assert (heartbeat.seq, heartbeat.from_seq, heartbeat.links) == (2, 3, "")
    assert chain_verify(checkpoints=checkpoint_store().records()).intact


def test_an_empty_trail_is_checkpointed_as_such(_own_checkpoints):
    checkpoint = audit_seal().checkpoint
    assert (checkpoint.seq, checkpoint.from_seq, checkpoint.links) == (0, 1, "")
    _write(1)
    audit_seal()
    assert chain_verify(checkpoints=checkpoint_store().records()).intact


def test_a_checkpoint_missed_after_a_commit_is_caught_up(_own_checkpoints):
    _write(2)
    audit_seal()
    _write(3)
    _seal_batch(10)  # sealed and committed, then the sealer died before its checkpoint
    _write(1)
    audit_seal()  # the missed checkpoint first, then the new seal's
    assert [(r["from"], r["seq"]) for r in _lines(_own_checkpoints)] == [(1, 2), (3, 5), (6, 6)]
    assert chain_verify(checkpoints=checkpoint_store().records()).intact


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r | {"seq": r["seq"] + 1}, "signature does not match"),
        (lambda r: r | {"key": "00000000"}, "signed with another key"),
        (lambda r: "not json", "not JSON"),
    ],
)
def test_an_altered_checkpoint_line_is_named(_own_checkpoints, edit, message):
    _write(2)
    audit_seal()
    _write(1)
    audit_seal()
    path = _own_checkpoints / FILE_NAME
    first, second = path.read_text().splitlines()
    changed = edit(json.loads(second))
    path.write_text(first + "\n" + (changed if isinstance(changed, str) else json.dumps(changed)))
    report = chain_verify(checkpoints=checkpoint_store().records())
    assert report.broken is not None and report.broken.kind == CHECKPOINT
    assert "checkpoint line 2" in report.broken.detail and message in report.broken.detail


def test_a_checkpoint_from_another_key_is_refused(_own_checkpoints):
    _write(1)
    audit_seal()
    other = FileCheckpointStore(_own_checkpoints, key=b"another key")
    with pytest.raises(CheckpointInvalid, match="signed with another key"):
        list(other.records())


def test_a_deleted_checkpoint_record_is_named(_own_checkpoints):
    for n in (1, 1, 1):
        _write(n)
        audit_seal()
    path = _own_checkpoints / FILE_NAME
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[2] + "\n")
    broken = chain_verify(checkpoints=checkpoint_store().records()).broken
    assert broken is not None and broken.kind == CHECKPOINT
    assert "a record between them is missing" in broken.detail


def test_the_sealer_refuses_to_seal_over_a_chain_that_lost_its_tail(_own_checkpoints):
    """Deleting the newest events (below, by hand, as the database's owner could) must not
    be papered over by sealing new events into the freed positions."""
    _write(4)
    audit_seal()
    as_owner("DELETE FROM supportability_auditevent WHERE seq >= 3")
    _write(2)
    result = audit_seal()
    assert result.sealed == 0
    assert "the newest events were deleted" in result.refused
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2
    refusal = AuditVerification.objects.get()
    assert (refusal.trigger, refusal.intact, refusal.unsealed) == ("sealer", False, 2)
    audit_seal()  # the beat tries again: one record for the episode, kept current
    assert AuditVerification.objects.count() == 1


def test_verify_records_what_it_found_and_audits_it(_own_checkpoints, lead):
    _write(3)
    audit_seal()
    _write(1)  # not sealed yet
    verification, report = audit_verify(trigger="lead", requested_by=lead)
    assert report.intact
    assert (verification.events, verification.head_seq, verification.unsealed) == (3, 3, 1)
    assert (verification.checkpoints, verification.checkpoint_seq) == (1, 3)
    event = AuditEvent.objects.get(verb="audit.verified")
    assert event.actor == lead and event.after["intact"] is True


def test_verify_names_the_first_missing_seq_of_a_deleted_tail(_own_checkpoints):
    _write(5)
    audit_seal()
    as_owner("DELETE FROM supportability_auditevent WHERE seq >= 4")
    verification, report = audit_verify()
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == (DELETED, 4)
    assert (verification.intact, verification.broken_seq) == (False, 4)


def test_an_altered_first_checkpoint_line_is_reported_not_raised(_own_checkpoints):
    _write(2)
    audit_seal()
    path = _own_checkpoints / FILE_NAME
    path.write_text(path.read_text().replace('"seq":2', '"seq":3'))
    verification, report = audit_verify()
    assert report.broken is not None and report.broken.kind == CHECKPOINT
    assert "checkpoint line 1" in report.broken.detail
    assert not verification.intact


def test_a_checkpoint_written_during_the_walk_is_not_a_lost_tail(_own_checkpoints):
    """The walk reads the chain as it started; the sealer may checkpoint newer events
    meanwhile: those are not "the newest events were deleted"."""
    _write(2)
    audit_seal()
    store = checkpoint_store()
    latest = store.latest()
    records = list(store.records())
    _write(3)
    audit_seal()  # as if during the walk: the chain read below ends at seq 2
    as_owner("DELETE FROM supportability_auditevent WHERE seq > 2")  # the walk's view
    later = list(store.records())
    assert len(later) == len(records) + 1
    report = chain_verify(checkpoints=later, checkpoints_until=latest.seq)
    assert report.intact


def test_an_emptied_store_stops_the_sealer_until_an_operator_anchors(_own_checkpoints):
    _write(3)
    audit_seal()
    (_own_checkpoints / FILE_NAME).unlink()
    _write(1)
    result = audit_seal()
    assert result.sealed == 0 and "holds no checkpoint" in result.refused
    call_command("audit_anchor", stdout=io.StringIO())
    assert audit_seal().sealed == 1
    assert verify_against_store(checkpoint_store()).intact
