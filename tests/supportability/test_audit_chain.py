"""The audit trail as a hash chain: the sealer links events in id order with gap-free seqs,
values read back from the database hash as written, and chain_verify (manage.py
verify_audit) finds edited, deleted and reordered events. Checkpoints: test_audit_anchors.py."""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.utils import IntegrityError

from labeling import services
from supportability.audit import (
    GENESIS,
    HASHED,
    audit_event,
    audit_record,
    audit_record_many,
    chain_verify,
    event_hash,
)
from supportability.audit.sealing import audit_seal
from supportability.audit.verification import DELETED, EDITED, REORDERED
from supportability.management.commands.verify_audit import Command as VerifyAudit
from supportability.models import AuditEvent
from tests.factories import MerchantFactory, ReviewItemFactory, UserFactory

pytestmark = pytest.mark.django_db

TRIGGER = "supportability_auditevent_append_only"


def _events(n):
    """n events, sealed, as stored."""
    merchant = MerchantFactory()
    written = [
        audit_record(
            actor=None,
            verb=f"test.step{i}",
            target=merchant,
            merchant_id=merchant.pk,
            before={"step": i - 1},
            after={"step": i},
        )
        for i in range(1, n + 1)
    ]
    audit_seal()
    return list(AuditEvent.objects.filter(pk__in=[e.pk for e in written]).order_by("seq"))


def _tamper(sql: str, params: list | None = None) -> None:
    """Change the table behind the chain's back. PostgreSQL's trigger refuses, so switch it
    off first: ALTER TABLE is transactional, and the test's rollback switches it on again.
    (It refuses while the inserts' deferred foreign-key checks are pending: run them now.)"""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE supportability_auditevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params or [])


def test_events_are_written_unsealed():
    merchant = MerchantFactory()
    event = audit_record(actor=None, verb="test.one", target=merchant)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.prev_hash, stored.hash) == (None, None, None)


def test_sealing_gives_consecutive_seqs_and_linked_hashes():
    written = _events(3)
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in stored] == [1, 2, 3]
    assert [e.pk for e in stored] == [e.pk for e in written]
    assert stored[0].prev_hash == GENESIS
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    for event in stored:
        assert len(event.hash) == 64
        assert event.hash == event_hash(event, event.prev_hash)


def test_bulk_events_are_linked_in_the_order_given():
    merchant = MerchantFactory()
    audit_record(actor=None, verb="test.first", target=merchant)
    audit_record_many(
        audit_event(actor=None, verb=f"test.bulk{i}", target=merchant, after={"i": i})
        for i in range(5)
    )
    assert audit_seal().sealed == 6
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.verb for e in stored] == ["test.first"] + [f"test.bulk{i}" for i in range(5)]
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5, 6]
    assert chain_verify().intact


def test_sealing_goes_on_from_the_head_in_batches():
    _events(3)
    merchant = MerchantFactory()
    audit_record_many(audit_event(actor=None, verb="test.more", target=merchant) for _ in range(7))
    result = audit_seal(batch_size=2)
    assert (result.sealed, result.head_seq) == (7, 10)
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 11)
    )
    assert chain_verify().intact
    assert audit_seal().sealed == 0


AWKWARD = {
    "floats": [0.1, 0.30000000000000004, 1e-7, 1.5e-10, 5e-324, 1e16, 1e300, 1.0, -0.0, 2.5],
    "ints": [0, -1, 2**53 + 1, 10**30],
    "text": 'Zürich — 東京 🚀 \u2028 "quoted" \\ back\tslash',
    "nested": {"z": {"b": [1, {"y": None, "x": True}], "a": "first"}, "a": []},
    "Ünïcode kéy": False,
}


def test_awkward_json_hashes_the_same_after_the_round_trip(analyst):
    merchant = MerchantFactory()
    event = audit_record(
        actor=analyst,
        verb="test.awkward",
        target=merchant,
        before=AWKWARD,
        after={"list": [AWKWARD]},
    )
    audit_seal()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.created_at == event.created_at
    # The sealer hashed what the database gave back: so does the verifier, at any time.
    assert event_hash(stored, stored.prev_hash) == stored.hash
    event.seq = stored.seq  # the values as written hash the same
    assert event_hash(event, stored.prev_hash) == stored.hash
    assert chain_verify().intact


def test_created_at_is_hashed_in_utc_with_microseconds():
    base = {name: None for name in HASHED if name != "created_at"} | {"seq": 1}
    moment = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    one = event_hash(SimpleNamespace(**base, created_at=moment), GENESIS)
    later = event_hash(SimpleNamespace(**base, created_at=moment.replace(microsecond=601)), GENESIS)
    assert one != later


@pytest.mark.parametrize("field", [f for f in HASHED if f != "created_at"])
def test_the_hash_covers_every_content_field(field):
    event = _events(1)[0]
    changed = {name: getattr(event, name) for name in HASHED}
    changed[field] = {"x": 1} if field in {"before", "after"} else 999
    assert event_hash(SimpleNamespace(**changed), event.prev_hash) != event.hash
    assert event_hash(event, "f" * 64) != event.hash


def test_verify_passes_on_an_intact_chain():
    events = _events(5)
    report = chain_verify(chunk_size=2)
    assert report.intact
    assert (report.events, report.head_seq, report.head) == (5, 5, events[-1].hash)


def test_verify_from_a_seq_trusts_the_event_before_it():
    events = _events(5)
    report = chain_verify(from_seq=3)
    assert report.intact
    assert (report.events, report.head) == (3, events[-1].hash)


def test_verify_detects_an_edited_event():
    events = _events(5)
    _tamper("UPDATE supportability_auditevent SET actor_label = %s WHERE seq = %s", ["mallory", 3])
    report = chain_verify()
    assert report.broken is not None
    assert (report.broken.kind, report.broken.seq) == (EDITED, 3)
    assert report.broken.event_id == events[2].pk
    assert (report.events, report.head) == (2, events[1].hash)


def test_verify_detects_an_edited_json_value():
    _events(5)
    _tamper(
        "UPDATE supportability_auditevent SET after = %s WHERE seq = %s",
        ['{"step": 40}', 4],
    )
    broken = chain_verify().broken
    assert broken is not None and (broken.kind, broken.seq) == (EDITED, 4)


def test_verify_detects_a_deleted_event():
    events = _events(5)
    _tamper("DELETE FROM supportability_auditevent WHERE seq = %s", [3])
    broken = chain_verify().broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == (DELETED, 3, events[3].pk)


def test_verify_detects_a_deletion_hidden_by_renumbering():
    events = _events(5)
    _tamper("DELETE FROM supportability_auditevent WHERE seq = %s", [3])
    for seq in (4, 5):
        _tamper("UPDATE supportability_auditevent SET seq = %s WHERE seq = %s", [seq - 1, seq])
    broken = chain_verify().broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == (DELETED, 3, events[3].pk)


def test_verify_detects_a_deleted_first_event():
    _events(3)
    _tamper("DELETE FROM supportability_auditevent WHERE seq = %s", [1])
    broken = chain_verify().broken
    assert broken is not None and (broken.kind, broken.seq) == (DELETED, 1)


@pytest.mark.parametrize(("a", "b"), [(2, 4), (2, 3)])
def test_verify_detects_events_whose_seqs_were_swapped(a, b):
    events = _events(5)
    _tamper("UPDATE supportability_auditevent SET seq = 999999 WHERE seq = %s", [a])
    _tamper("UPDATE supportability_auditevent SET seq = %s WHERE seq = %s", [a, b])
    _tamper("UPDATE supportability_auditevent SET seq = %s WHERE seq = 999999", [b])
    broken = chain_verify().broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == (REORDERED, a, events[b - 1].pk)


def test_verify_detects_events_whose_contents_were_swapped():
    events = _events(5)
    fields = [f for f in AuditEvent._meta.concrete_fields if f.attname in HASHED]
    fields.remove(AuditEvent._meta.get_field("seq"))
    assignments = ", ".join(f"{field.column} = %s" for field in fields)
    for seq, other in ((2, events[3]), (4, events[1])):
        values = [f.get_db_prep_save(getattr(other, f.attname), connection) for f in fields]
        # Column names from the model; every value a parameter.
        sql = f"UPDATE supportability_auditevent SET {assignments} WHERE seq = %s"  # noqa: S608
        _tamper(sql, [*values, seq])
    broken = chain_verify().broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == (REORDERED, 2, events[1].pk)
    assert "written at seq 4" in broken.detail


def test_command_prints_the_head_of_an_intact_chain(capsys):
    events = _events(4)
    call_command("verify_audit")
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"4 events, chain intact, head {events[-1].hash}"


def test_command_on_a_broken_chain_names_the_event_and_exits_non_zero(monkeypatch, capsys):
    events = _events(4)
    _tamper("DELETE FROM supportability_auditevent WHERE seq = %s", [2])
    with pytest.raises(
        CommandError, match=rf"broken at seq 2 \(event id {events[2].pk}\): deleted"
    ):
        call_command("verify_audit")
    # As `manage.py verify_audit` runs it; it would close the test's connection after.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exit_:
        VerifyAudit().run_from_argv(["manage.py", "verify_audit"])
    assert exit_.value.code == 1
    assert "audit chain broken at seq 2" in capsys.readouterr().err


def test_events_are_only_appended_through_the_chain():
    merchant = MerchantFactory()
    with pytest.raises(TypeError):
        AuditEvent.objects.create(verb="test.direct", object_type="x", object_id=str(merchant.pk))
    assert not AuditEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE supportability_auditevent SET actor_label = 'mallory' WHERE seq = 1",
        "UPDATE supportability_auditevent SET seq = 9 WHERE seq = 1",
        "DELETE FROM supportability_auditevent WHERE seq = 1",
    ],
)
def test_postgres_refuses_to_update_or_delete_a_sealed_event(sql):
    _events(2)
    refused = pytest.raises(IntegrityError, match="audit events are append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert chain_verify().intact


@pytest.mark.postgres
@pytest.mark.parametrize(
    "assignments",
    [
        "actor_label = 'mallory'",  # an edit before sealing
        "seq = 1, prev_hash = repeat('0', 64), hash = repeat('0', 64), verb = 'x.forged'",
    ],
)
def test_postgres_lets_an_unsealed_event_be_sealed_and_nothing_else(assignments):
    merchant = MerchantFactory()
    event = audit_record(actor=None, verb="test.one", target=merchant)
    refused = pytest.raises(IntegrityError, match="audit events are append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE supportability_auditevent SET {assignments} WHERE id = %s",  # noqa: S608
            [event.pk],
        )
    assert audit_seal().sealed == 1
    assert AuditEvent.objects.get(pk=event.pk).verb == "test.one"


@pytest.mark.postgres
def test_postgres_refuses_truncate_of_the_audit_trail():
    _events(2)
    refused = pytest.raises(IntegrityError, match="TRUNCATE of supportability_auditevent refused")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the inserts' deferred checks
        cursor.execute("TRUNCATE supportability_auditevent CASCADE")
    assert AuditEvent.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_append_one_unbroken_chain(taxonomy):
    """Analysts claiming and labelling (the plain-SQL hot paths) while other writers append
    batches: one chain, every seq once."""
    items = ReviewItemFactory.create_batch(40)
    merchant = items[0].merchant
    analysts = [UserFactory(username=f"chain{i}") for i in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(analysts) + 2)

    def label_all(user) -> None:
        try:
            start.wait()
            while (lease := services.item_claim(user=user)) is not None:
                services.label_submit(
                    user=user,
                    item_id=lease.item_id,
                    lease_token=lease.token,
                    data=services.LabelInput("supportable", "none", "", f"{user.pk}-{lease.pk}"),
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def append_batches(writer: int) -> None:
        try:
            start.wait()
            for i in range(15):
                with transaction.atomic():
                    audit_record_many(
                        audit_event(actor=None, verb="test.batch", target=merchant, after={"i": i})
                        for _ in range(3)
                    )
                # Outside a transaction: the writer opens one for the insert.
                audit_record(actor=None, verb="test.one", target=merchant, after={"w": writer})
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=label_all, args=(user,)) for user in analysts]
    threads += [threading.Thread(target=append_batches, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    audit_seal()
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert AuditEvent.objects.filter(verb="label.submit").count() == 40
    assert AuditEvent.objects.filter(verb="test.batch").count() == 2 * 15 * 3
    report = chain_verify()
    assert report.intact and report.events == len(seqs)


def test_the_sealing_trigger_guards_every_column_but_the_seal():
    migration = importlib.import_module(
        "supportability.migrations.0012_audit_sealing_trigger_columns"
    )
    columns = {field.column for field in AuditEvent._meta.concrete_fields}
    assert set(migration.CONTENT) == columns - {"seq", "prev_hash", "hash"}
