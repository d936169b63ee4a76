"""Every download of labels or audit data is one export event, written before the first
byte: a snapshot's rows through the API (JSON lines, CSV) and the export_snapshot command,
the lead's audit CSV and agreement CSV."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from review.services.quality import quality_compute
from supportability.models import AuditEvent, LabelSnapshot
from supportability.services import SnapshotRow, snapshot_create, token_create
from tests.clients import bearer, logged_in
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb__startswith="export.").order_by("id"))


def _snapshot() -> LabelSnapshot:
    row = SnapshotRow(
        merchant_id=MerchantFactory.create().pk,
        decision="restricted",
        category_slug="gambling",
        source="adjudication",
        weight=1.0,
        confidence=1.0,
        propensity=0.5,
        features_ref="ref",
    )
    return snapshot_create(rows=[row], filters={"note": "weekly"})


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_snapshot_download_is_one_event_before_its_body(fmt):
    snapshot = _snapshot()
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    path = f"/api/v1/snapshots/{snapshot.pk}/rows"
    response = bearer(secret).get(path, {"format": fmt})
    assert response.status_code == 200
    [event] = exports()  # the body has not been read yet
    assert (event.verb, event.object_type, event.object_id) == (
        "export.snapshot",
        "supportability.labelsnapshot",
        str(snapshot.pk),
    )
    assert event.actor_label == "svc-trainer"
    assert event.after == {
        "format": fmt,
        "method": "GET",
        "path": path,
        "route": "api-snapshot-rows",
        "via": "token:trainer",
        "filters": {"note": "weekly"},
    }
    assert b"".join(response.streaming_content)
    assert len(exports()) == 1


def test_a_refused_snapshot_download_is_no_export():
    snapshot = _snapshot()
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    response = bearer(secret).get(f"/api/v1/snapshots/{snapshot.pk}/rows", {"format": "xlsx"})
    assert response.status_code == 400
    assert exports() == []


def test_the_export_command_is_one_event(tmp_path):
    snapshot = _snapshot()
    out = tmp_path / "rows.csv"
    call_command("export_snapshot", str(snapshot.pk), "--format", "csv", "--output", str(out))
    [event] = exports()
    assert (event.verb, event.object_id, event.actor_id) == (
        "export.snapshot",
        str(snapshot.pk),
        None,
    )
    assert event.after == {
        "format": "csv",
        "route": "manage.py export_snapshot",
        "via": "command",
        "output": str(out),
        "filters": {"note": "weekly"},
    }


def test_the_audit_csv_is_one_event_with_its_filters(lead):
    response = logged_in(lead).get("/lead/audit.csv", {"verb": "label.", "actor": "ana"})
    assert response.status_code == 200
    [event] = exports()
    assert (event.verb, event.actor_id) == ("export.audit", lead.pk)
    assert event.after == {
        "format": "csv",
        "method": "GET",
        "path": "/lead/audit.csv",
        "route": "review:audit-csv",
        "via": "session",
        "filters": {"verb": "label.", "actor": "ana"},
    }


def test_a_refused_audit_csv_is_no_export(lead):
    assert logged_in(lead).get("/lead/audit.csv", {"date_from": "never"}).status_code == 400
    assert exports() == []


def test_the_agreement_csv_is_one_event_naming_its_run(lead):
    run = quality_compute()
    response = logged_in(lead).get("/lead/agreement.csv")
    assert response.status_code == 200
    [event] = exports()
    assert (event.verb, event.object_type, event.object_id) == (
        "export.agreement",
        "review.qualityrun",
        str(run.pk),
    )
    assert event.after["format"] == "csv" and event.after["route"] == "review:agreement-csv"


def test_the_agreement_csv_before_any_run_is_still_recorded(lead):
    assert logged_in(lead).get("/lead/agreement.csv").status_code == 200
    [event] = exports()
    assert (event.object_type, event.object_id) == ("review.qualityrun", "none")
