from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from review.models import CleanLabel
from supportability.models import AuditEvent, LabelSnapshot, LabelSnapshotRow
from supportability.services import SnapshotRow, snapshot_create, token_create, token_revoke
from tests.clients import api_as, bearer, error_fields
from tests.factories import MerchantFactory, UserFactory, clean_label, escalated_item

pytestmark = pytest.mark.django_db

SNAPSHOTS = "/api/v1/snapshots/"
CLEAN_LABELS = "/api/v1/clean-labels/"


def snapshot_of(merchants, *, actor=None, note="") -> LabelSnapshot:
    """A snapshot written by the core service, one row per merchant, in the order given."""
    rows = [
        SnapshotRow(
            merchant_id=m.pk,
            decision="restricted",
            category_slug="gambling",
            source="adjudication",
            weight=0.75 + i / 100,
            confidence=0.75 + i / 100,
            propensity=0.5,
            features_ref=f"ref-{m.pk}",
        )
        for i, m in enumerate(merchants)
    ]
    return snapshot_create(rows=rows, filters={"note": note}, actor=actor)


def body_of(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


# --- who may call ---------------------------------------------------------------------------


@pytest.fixture
def endpoints():
    snapshot = snapshot_of([MerchantFactory()])
    clean_label()
    return [
        ("get", SNAPSHOTS),
        ("get", f"{SNAPSHOTS}{snapshot.pk}/"),
        ("get", f"{SNAPSHOTS}{snapshot.pk}/rows"),
        ("get", f"{SNAPSHOTS}{snapshot.pk}/rows?format=csv"),
        ("get", CLEAN_LABELS),
        ("post", SNAPSHOTS),
    ]


def _call(client: APIClient, method: str, url: str):
    return client.post(url, {}, format="json") if method == "post" else client.get(url)


def test_anonymous_callers_are_401(endpoints):
    for method, url in endpoints:
        response = _call(APIClient(), method, url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Bearer"


def test_analysts_are_403(endpoints, analyst):
    for method, url in endpoints:
        assert _call(api_as(analyst), method, url).status_code == 403, url


def test_a_token_without_labels_read_is_403(endpoints):
    _, secret = token_create(name="detector", scopes=["flags:write", "queue:work"])
    for method, url in endpoints:
        assert _call(bearer(secret), method, url).status_code == 403, url


def test_a_service_user_in_a_session_is_403(endpoints, make_user):
    """The scope is the token's: a service account logged in without one gets nothing."""
    service = make_user("service", username="svc-someone")
    for method, url in endpoints:
        assert _call(api_as(service), method, url).status_code == 403, url


@pytest.mark.parametrize("who", ["lead", "admin", "token"])
def test_leads_admins_and_label_reading_tokens_are_let_in(endpoints, who, lead, make_user, reader):
    client = {
        "lead": lambda: api_as(lead),
        "admin": lambda: api_as(make_user("admin", username="root")),
        "token": lambda: reader,
    }[who]()
    for method, url in endpoints:
        expected = 201 if method == "post" else 200
        assert _call(client, method, url).status_code == expected, url


def test_a_revoked_token_is_401():
    token, secret = token_create(name="trainer", scopes=["labels:read"])
    token_revoke(name=token.name)
    assert bearer(secret).get(SNAPSHOTS).status_code == 401
    assert bearer(secret).get(f"{SNAPSHOTS}1/rows").status_code == 401


# --- list and detail ------------------------------------------------------------------------


def test_snapshot_list_is_newest_first_with_metadata_and_cursor_pages(lead, reader):
    older = snapshot_of([MerchantFactory()], actor=lead, note="first")
    newer = snapshot_of([MerchantFactory(), MerchantFactory()], note="second")
    page = reader.get(f"{SNAPSHOTS}?page_size=1").json()
    assert [s["id"] for s in page["results"]] == [newer.pk]
    assert page["results"][0] == {
        "id": newer.pk,
        "created_at": page["results"][0]["created_at"],
        "created_by": None,
        "filters": {"note": "second"},
        "policy_version": newer.policy_version.version,
        "content_sha256": newer.content_sha256,
        "row_count": 2,
        "rows": f"http://testserver{SNAPSHOTS}{newer.pk}/rows",
    }
    rest = reader.get(page["next"]).json()
    assert [s["id"] for s in rest["results"]] == [older.pk]
    assert rest["results"][0]["created_by"] == lead.username
    assert rest["next"] is None


def test_snapshot_detail_and_unknown_id(lead):
    snapshot = snapshot_of([MerchantFactory()], actor=lead)
    response = api_as(lead).get(f"{SNAPSHOTS}{snapshot.pk}/")
    assert response.status_code == 200
    assert response.json()["content_sha256"] == snapshot.content_sha256
    assert response.json()["created_by"] == lead.username
    assert api_as(lead).get(f"{SNAPSHOTS}{snapshot.pk + 1}/").status_code == 404
    assert api_as(lead).get(f"{SNAPSHOTS}{snapshot.pk + 1}/rows").status_code == 404


def test_snapshot_list_does_not_query_per_snapshot(django_assert_num_queries, lead, reader):
    client = reader
    for _ in range(3):
        snapshot_of([MerchantFactory()], actor=lead)
    client.get(SNAPSHOTS)  # the token's first use of its window is recorded (once)
    # two for the token (token and user, then groups), one for the page
    with django_assert_num_queries(3):
        assert len(client.get(SNAPSHOTS).json()["results"]) == 3
    for _ in range(3):
        snapshot_of([MerchantFactory()], actor=lead)
    with django_assert_num_queries(3):
        assert len(client.get(SNAPSHOTS).json()["results"]) == 6


def test_options_on_the_snapshot_list_describes_its_post_body(reader):
    # It was a 500: DRF describes a generic view's POST body from its serializer class.
    response = reader.options(SNAPSHOTS)
    assert response.status_code == 200
    assert set(response.json()["actions"]["POST"]) == {"refresh", "note"}


# --- rows -----------------------------------------------------------------------------------


def test_rows_stream_as_json_lines_in_merchant_order_with_the_hash_header(reader):
    merchants = [MerchantFactory() for _ in range(3)]
    snapshot = snapshot_of(list(reversed(merchants)))  # written out of merchant order
    response = reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["X-Content-SHA256"] == snapshot.content_sha256
    lines = body_of(response).splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["merchant_id"] for r in rows] == [m.pk for m in merchants]
    first = merchants[0]  # written last: the highest confidence
    assert rows[0] == {
        "merchant_id": first.pk,
        "merchant_external_id": first.external_id,
        "features_ref": f"ref-{first.pk}",
        "decision": "restricted",
        "category": "gambling",
        "source": "adjudication",
        "confidence": 0.77,
        "propensity": 0.5,
        "weight": 0.77,
    }


def test_rows_stream_as_csv_with_a_header(reader):
    merchants = [MerchantFactory() for _ in range(2)]
    snapshot = snapshot_of(merchants)
    response = reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["X-Content-SHA256"] == snapshot.content_sha256
    rows = list(csv.DictReader(io.StringIO(body_of(response))))
    assert [int(r["merchant_id"]) for r in rows] == [m.pk for m in merchants]
    assert rows[1] == {
        "merchant_id": str(merchants[1].pk),
        "merchant_external_id": merchants[1].external_id,
        "features_ref": f"ref-{merchants[1].pk}",
        "decision": "restricted",
        "category": "gambling",
        "source": "adjudication",
        "confidence": "0.76",
        "propensity": "0.5",
        "weight": "0.76",
    }


def test_rows_of_an_empty_snapshot_are_an_empty_body_or_a_header(reader):
    snapshot = snapshot_create(rows=[], filters={})
    assert body_of(reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows")) == ""
    csv_body = body_of(reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows?format=csv"))
    assert csv_body.startswith("merchant_id,merchant_external_id,") and csv_body.count("\n") == 1


@pytest.mark.parametrize("fmt", ["parquet", "json", "JSONL"])
def test_rows_in_an_unknown_format_are_400_naming_format(fmt, reader):
    snapshot = snapshot_of([MerchantFactory()])
    response = reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows?format={fmt}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "format" in error_fields(response)


def test_rows_ignore_an_accept_header_naming_the_download(reader):
    snapshot = snapshot_of([MerchantFactory()])
    response = reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows?format=csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert body_of(response).startswith("merchant_id,")


def test_rows_are_one_query_whatever_the_size(django_assert_num_queries, reader):
    client = reader
    snapshot = snapshot_of([MerchantFactory() for _ in range(25)])
    client.get(SNAPSHOTS)  # the token's first use of its window is recorded (once)
    # token and groups, the snapshot, the download's audit event (its own transaction: a
    # savepoint here, the insert, the release), then the rows (one cursor)
    with django_assert_num_queries(7):
        assert len(body_of(client.get(f"{SNAPSHOTS}{snapshot.pk}/rows")).splitlines()) == 25


# --- making a snapshot ----------------------------------------------------------------------


def test_post_freezes_the_training_clean_labels_with_who_asked(lead):
    kept = [clean_label(), clean_label(source=CleanLabel.Source.GOLD, confidence=1.0)]
    clean_label(source=CleanLabel.Source.ESTIMATE, confidence=0.4, for_training=False)
    response = api_as(lead).post(SNAPSHOTS, {"note": "weekly"}, format="json")
    assert response.status_code == 201
    body = response.json()
    snapshot = LabelSnapshot.objects.get()
    assert body["id"] == snapshot.pk
    assert body["created_by"] == lead.username == snapshot.created_by.username
    assert body["row_count"] == 2
    assert body["filters"]["note"] == "weekly"
    assert body["content_sha256"] == snapshot.content_sha256
    assert sorted(LabelSnapshotRow.objects.values_list("merchant_id", flat=True)) == sorted(
        c.merchant_id for c in kept
    )


def test_post_again_on_unchanged_clean_labels_gives_a_new_snapshot_with_the_same_hash(lead, reader):
    clean_label()
    clean_label(decision="supportable", category="none")
    first = api_as(lead).post(SNAPSHOTS).json()
    second = reader.post(SNAPSHOTS, {}, format="json").json()
    assert second["id"] != first["id"]
    assert second["content_sha256"] == first["content_sha256"]
    assert second["created_by"] == "svc-trainer"
    assert LabelSnapshot.objects.count() == 2


def test_post_with_no_usable_clean_labels_is_409_and_writes_nothing(lead):
    clean_label(for_training=False)
    response = api_as(lead).post(SNAPSHOTS, {}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "no clean labels usable for training yet"
    assert not LabelSnapshot.objects.exists()
    assert not LabelSnapshotRow.objects.exists()
    assert not AuditEvent.objects.filter(verb="snapshot.create").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"note": "x" * 201}, "note"), ({"note": None}, "note"), ({"refresh": "maybe"}, "refresh")],
)
def test_post_with_bad_input_is_400_naming_the_field(lead, body, field):
    clean_label()
    response = api_as(lead).post(SNAPSHOTS, body, format="json")
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not LabelSnapshot.objects.exists()


def test_post_with_refresh_recomputes_clean_labels_first(lead, make_user):
    first, second = make_user(username="a1"), make_user(username="a2")
    item = escalated_item([first, second], [("prohibited", "weapons")] * 2)
    assert not CleanLabel.objects.exists()
    without = api_as(lead).post(SNAPSHOTS, {}, format="json")
    assert without.status_code == 409
    response = api_as(lead).post(SNAPSHOTS, {"refresh": True}, format="json")
    assert response.status_code == 201
    assert response.json()["row_count"] == 1
    assert response.json()["filters"]["refreshed"] is True
    row = LabelSnapshotRow.objects.get()
    assert (row.merchant_id, row.decision, row.category_slug) == (
        item.merchant_id,
        "prohibited",
        "weapons",
    )


# --- the export command ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_command_writes_what_the_api_streams(fmt, tmp_path, reader):
    snapshot = snapshot_of([MerchantFactory(name='Quote "and", comma') for _ in range(4)])
    api_body = body_of(reader.get(f"{SNAPSHOTS}{snapshot.pk}/rows?format={fmt}"))
    stdout = io.StringIO()
    call_command("export_snapshot", str(snapshot.pk), "--format", fmt, stdout=stdout)
    assert stdout.getvalue() == api_body
    target = tmp_path / f"out.{fmt}"
    call_command(
        "export_snapshot",
        str(snapshot.pk),
        "--format",
        fmt,
        "--output",
        str(target),
        stderr=io.StringIO(),
    )
    assert target.read_bytes() == api_body.encode()
    assert len(api_body.splitlines()) == 4 + (fmt == "csv")


def test_export_command_fails_on_an_unknown_snapshot():
    with pytest.raises(CommandError, match="No snapshot with id 999"):
        call_command("export_snapshot", "999", stdout=io.StringIO())


# --- immutability ---------------------------------------------------------------------------


def test_snapshots_and_their_rows_cannot_be_changed(lead, reader):
    snapshot = snapshot_of([MerchantFactory()], actor=lead)
    with pytest.raises(TypeError):
        LabelSnapshot.objects.filter(pk=snapshot.pk).update(row_count=0)
    snapshot.row_count = 0
    with pytest.raises(TypeError):
        snapshot.save()
    with pytest.raises(TypeError):
        LabelSnapshotRow.objects.filter(snapshot=snapshot).update(decision="supportable")
    row = LabelSnapshotRow.objects.get(snapshot=snapshot)
    with pytest.raises(TypeError):
        row.save()
    snapshot.refresh_from_db()
    assert snapshot.row_count == 1
    assert reader.get(f"{SNAPSHOTS}{snapshot.pk}/").json()["row_count"] == 1


def test_an_admins_token_without_labels_read_is_403():
    admin = UserFactory(role="admin", username="root")
    _, secret = token_create(name="root-client", scopes=["queue:work"], user=admin)
    assert bearer(secret).get(SNAPSHOTS).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_rows_stream_in_chunks_outside_a_transaction(taxonomy, monkeypatch):
    """As in production: no test transaction around the request, so on PostgreSQL the rows
    come through a server-side cursor that outlives the view, fetched a chunk at a time."""
    monkeypatch.setattr("review.api.export.CHUNK_SIZE", 2)
    merchants = [MerchantFactory() for _ in range(5)]
    snapshot = snapshot_of(merchants)
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    response = bearer(secret).get(f"{SNAPSHOTS}{snapshot.pk}/rows")
    rows = [json.loads(line) for line in body_of(response).splitlines()]
    assert [r["merchant_id"] for r in rows] == [m.pk for m in merchants]
