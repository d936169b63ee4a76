"""Tampering with the audit trail on PostgreSQL, as its owner could (triggers off), and what
the application's own role cannot do at all. Each tampering is found by the verifier against
the checkpoints, which names the first bad seq."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import IntegrityError, ProgrammingError

from supportability.audit import audit_event, audit_record_many, event_hash
from supportability.audit.checkpoints import checkpoint_store
from supportability.audit.sealing import audit_seal
from supportability.audit.verification import DELETED, EDITED, REWRITTEN, chain_verify
from supportability.models import AuditEvent
from tests.factories import MerchantFactory

from .tamper import as_owner

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

APP_ROLE_SQL = Path(settings.BASE_DIR) / "deploy" / "postgres" / "app-role.sql"


@pytest.fixture
def chain() -> list[AuditEvent]:
    """12 events sealed in three runs (checkpoints at seqs 4, 8 and 12)."""
    merchant: Any = MerchantFactory()
    for run in range(3):
        audit_record_many(
            audit_event(actor=None, verb="test.step", target=merchant, after={"run": run, "i": i})
            for i in range(4)
        )
        audit_seal()
    return list(AuditEvent.objects.order_by("seq"))


def _first_bad() -> tuple[str, int]:
    broken = chain_verify(checkpoints=checkpoint_store().records()).broken
    assert broken is not None, "the tampering went unnoticed"
    return broken.kind, broken.seq


def test_the_untouched_chain_agrees_with_its_checkpoints(chain):
    report = chain_verify(checkpoints=checkpoint_store().records())
    assert report.intact and (report.events, report.checkpoints) == (12, 3)


def test_an_update_is_found(chain):
    as_owner("UPDATE supportability_auditevent SET after = '{\"run\": 9}' WHERE seq = 6")
    assert _first_bad() == (EDITED, 6)


def test_a_delete_is_found(chain):
    as_owner("DELETE FROM supportability_auditevent WHERE seq = 7")
    assert _first_bad() == (DELETED, 7)


def test_truncate_is_refused_and_an_owners_truncate_is_found(chain):
    refused = pytest.raises(IntegrityError, match="TRUNCATE of supportability_auditevent refused")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE supportability_auditevent")
    assert AuditEvent.objects.count() == 12
    as_owner("TRUNCATE supportability_auditevent")
    assert _first_bad() == (DELETED, 1)


@pytest.mark.parametrize(
    "table",
    [
        "supportability_auditevent",
        "labeling_label",
        "review_adjudication",
        "review_qaaudit",
        "supportability_labelsnapshot",
        "supportability_labelsnapshotrow",
    ],
)
def test_truncate_of_the_evidence_is_refused_even_to_the_owner(table):
    refused = pytest.raises(IntegrityError, match=f"TRUNCATE of {table} refused")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize("newest", [1, 3, 5])
def test_deleting_the_newest_events_is_found(chain, newest):
    as_owner("DELETE FROM supportability_auditevent WHERE seq > %s", [12 - newest])
    assert _first_bad() == (DELETED, 12 - newest + 1)


@pytest.mark.parametrize("start", [1, 6, 12])
def test_a_chain_rewritten_with_fresh_hashes_is_found(chain, start):
    """The owner changes an event and recomputes every hash from it on: a chain that is
    consistent in itself, but not the one the checkpoints recorded."""
    prev_hash = chain[start - 2].hash if start > 1 else "0" * 64
    for event in chain[start - 1 :]:
        if event.seq == start:
            event.after = {"run": 0, "i": "rewritten"}
        event.prev_hash = prev_hash
        event.hash = prev_hash = event_hash(event, prev_hash)
        as_owner(
            "UPDATE supportability_auditevent SET after = %s::jsonb, prev_hash = %s, hash = %s"
            " WHERE id = %s",
            [json.dumps(event.after), event.prev_hash, event.hash, event.pk],
        )
    assert chain_verify().intact  # the table alone cannot tell
    assert _first_bad() == (REWRITTEN, start)


# --- the application's role ---------------------------------------------------------------


@pytest.fixture
def app_role(chain) -> str:
    """A role granted what deploy/postgres/app-role.sql grants, in force for the test's
    transaction (rolled back after, role and all)."""
    name = f"sr_app_probe_{os.getpid()}"
    grants = APP_ROLE_SQL.read_text().replace("supportability_app", name)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} NOLOGIN")
        for statement in _statements(grants):
            cursor.execute(statement)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET ROLE {name}")
    return name


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("TRUNCATE supportability_auditevent", "permission denied"),
        ("TRUNCATE labeling_label", "permission denied"),
        ("DELETE FROM supportability_auditevent WHERE seq = 1", "permission denied"),
        ("UPDATE supportability_auditevent SET verb = 'x' WHERE seq = 1", "append-only"),
        (
            "ALTER TABLE supportability_auditevent DISABLE TRIGGER"
            " supportability_auditevent_append_only",
            "must be owner",
        ),
        (
            "DROP TRIGGER supportability_auditevent_refuse_truncate ON supportability_auditevent",
            "must be owner",
        ),
        ("SET session_replication_role = replica", "permission denied"),
    ],
)
def test_the_application_role_cannot_touch_the_evidence(app_role, sql, error):
    refused = pytest.raises((ProgrammingError, IntegrityError), match=error)
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


def test_the_application_role_writes_and_seals_events(app_role):
    merchant = MerchantFactory()
    audit_record_many([audit_event(actor=None, verb="test.as_app", target=merchant)])
    assert audit_seal().sealed == 1
    assert chain_verify(checkpoints=checkpoint_store().records()).intact


def test_the_application_role_cannot_insert_a_sealed_event(app_role):
    refused = pytest.raises(IntegrityError, match="written unsealed")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO supportability_auditevent (actor_label, verb, object_type, object_id,"
            " created_at, seq, prev_hash, hash) VALUES ('x', 'x.forged', 'x', '1', now(), 13,"
            " %s, %s)",
            [chain_head(), "f" * 64],
        )
    assert not AuditEvent.objects.filter(verb="x.forged").exists()


@pytest.mark.parametrize(("seq", "link"), [(14, "head"), (13, "other")])
def test_the_application_role_cannot_seal_out_of_line(app_role, seq, link):
    """A gap (seq 14 after 12) or a fork (seq 13 not following seq 12's hash)."""
    merchant = MerchantFactory()
    audit_record_many([audit_event(actor=None, verb="test.unsealed", target=merchant)])
    event = AuditEvent.objects.get(verb="test.unsealed")
    prev = chain_head() if link == "head" else "e" * 64
    refused = pytest.raises(IntegrityError, match="does not follow the event at seq")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE supportability_auditevent SET seq = %s, prev_hash = %s, hash = %s"
            " WHERE id = %s",
            [seq, prev, "f" * 64, event.pk],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the check runs at commit
    assert AuditEvent.objects.get(pk=event.pk).seq is None


def chain_head() -> str:
    return str(AuditEvent.objects.get(seq=12).hash)
