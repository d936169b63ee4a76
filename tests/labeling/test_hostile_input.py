"""What a hostile or careless upstream sends: every refusal is a 4xx in the API's one error
shape, naming the field, and nothing is stored."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from supportability.api.parsers import JSONBodyParser, PayloadTooLarge
from supportability.models import AuditEvent, Merchant, Score
from supportability.services import token_create
from tests.clients import api_as, bearer, error_fields
from tests.labeling.test_intake import ROW

pytestmark = pytest.mark.django_db
FLAGS = "/api/v1/flags/"


@pytest.fixture
def detector() -> APIClient:
    _, secret = token_create(name="detector", scopes=["flags:write"])
    return bearer(secret)


def _row(**merchant: Any) -> dict[str, Any]:
    row: dict[str, Any] = copy.deepcopy(ROW)
    row["merchant"].update(merchant)
    return row


def _post_raw(client: APIClient, body: str) -> Any:
    return client.generic("POST", FLAGS, body, content_type="application/json")


def _nothing_stored() -> bool:
    return (
        not Merchant.objects.exists()
        and not Score.objects.exists()
        and not AuditEvent.objects.filter(verb="flags.ingest").exists()
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Python's json reads these bare tokens; the field they sit in refuses them by name.
        ('[{"merchant": {"monthly_volume": NaN}}]', "[0].merchant.monthly_volume"),
        ('[{"merchant": {"monthly_volume": Infinity}}]', "[0].merchant.monthly_volume"),
        ('[{"score": -Infinity}]', "[0].score"),
        # Inside an explanation too, by its place in it (was "[0].explanation": DRF's JSON
        # check refused the whole value first, as "not valid JSON").
        ('[{"explanation": {"terms": [["pills", NaN]]}}]', "[0].explanation.terms[0][1]"),
    ],
)
def test_nan_and_infinity_tokens_are_refused_naming_the_field(detector, body, field):
    row = json.loads(body)[0]
    full = _row(**row.get("merchant", {}))
    full.update({k: v for k, v in row.items() if k != "merchant"})
    response = _post_raw(detector, json.dumps([full], allow_nan=True))
    assert response.status_code == 400, response.content
    assert field in error_fields(response)
    assert _nothing_stored()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (_row(monthly_volume="NaN"), "[0].merchant.monthly_volume", "not a string"),
        (_row(refund_rate=True), "[0].merchant.refund_rate", "not a boolean"),
        (_row(mcc="٥٩٩٣"), "[0].merchant.mcc", "match"),
        (_row(mcc=5122), "[0].merchant.mcc", "not int"),
        (_row(name="Pills\u0000Shop"), "[0].merchant.name", "Null characters"),
        (_row(account_age_days=1.5), "[0].merchant.account_age_days", "valid integer"),
        (_row(external_id="x" * 65), "[0].merchant.external_id", "64"),
        (_row(website_text="w" * 100_001), "[0].merchant.website_text", "100000"),
        (ROW | {"score": True}, "[0].score", "not a boolean"),
        (ROW | {"score": "0.9"}, "[0].score", "not a string"),
        # JSON integers past the largest float were an OverflowError (a 500).
        (ROW | {"score": 10**400}, "[0].score", "less than or equal to 1"),
        (_row(monthly_volume=-(10**400)), "[0].merchant.monthly_volume", "greater than"),
        (_row(account_age_days=10**400), "[0].merchant.account_age_days", "less than"),
        (ROW | {"explanation": {"terms": [["a", 10**400]]}}, "[0].explanation.terms[0][1]", "max"),
        (ROW | {"explanation": {"terms": 5}}, "[0].explanation.terms", "array"),
        (ROW | {"explanation": {"terms": [["a\u0000", 1]]}}, "[0].explanation.terms[0][0]", "NUL"),
        (ROW | {"explanation": {"terms": [["a", "1"]]}}, "[0].explanation.terms[0][1]", "number"),
        (ROW | {"explanation": [1, 2]}, "[0].explanation", "object"),
        (ROW | {"explanation": {"why": "x"}}, "[0].explanation", "terms, features"),
        (ROW | {"category": 7}, "[0].category", "slug"),
        # A 500 on PostgreSQL, which cannot compare text holding NUL.
        (ROW | {"category": "gambling\u0000"}, "[0].category", "Null characters"),
        (ROW | {"model": {"name": ["x"], "version": "1"}}, "[0].model.name", "string"),
    ],
)
def test_strict_types_and_schemas_name_the_field_and_store_nothing(detector, row, field, message):
    response = detector.post(FLAGS, [row], format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert message.lower() in error["message"].lower(), error
    assert _nothing_stored()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        # Was "Invalid value." (the driver's encoding error, caught by DRF's lookup).
        (ROW | {"category": "gambling\ud800"}, "[0].category"),
        (ROW | {"explanation": {"terms": [["peptides\udc00", 1]]}}, "[0].explanation.terms[0][0]"),
    ],
)
def test_unpaired_surrogates_are_refused_naming_the_field(detector, row, field):
    response = _post_raw(detector, json.dumps([row]))  # escaped in the JSON text: \ud800
    assert response.status_code == 400, response.content
    [error] = [e for e in response.json()["errors"] if e["field"] == field]
    assert "surrogate" in error["message"]
    assert _nothing_stored()


def test_a_bad_row_names_its_index_and_refuses_the_whole_batch(detector):
    rows = [copy.deepcopy(ROW) for _ in range(3)]
    for i, row in enumerate(rows):
        row["merchant"]["external_id"] = f"E-{i}"
    rows[2]["merchant"]["dispute_rate"] = 7
    response = detector.post(FLAGS, rows, format="json")
    assert response.status_code == 400
    assert error_fields(response) == ["[2].merchant.dispute_rate"]
    assert response.json()["detail"].startswith("Invalid input: [2].merchant.dispute_rate")
    assert _nothing_stored()


def test_deeply_nested_json_is_a_400_not_a_crash(detector):
    response = _post_raw(detector, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]
    response = _post_raw(detector, json.dumps([ROW | {"explanation": {"terms": [[[[[[[]]]]]]]}}]))
    assert response.status_code == 400  # within the depth limit, refused by the schema
    assert _nothing_stored()


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(detector, settings):
    body = json.dumps([_row(description="x" * 9_000)] * 350)  # ~3.2 MB
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = _post_raw(detector, body)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "limit is 2,621,440 bytes" in response.json()["detail"]
    assert _nothing_stored()


def test_the_parser_stops_reading_at_the_limit_when_no_length_was_sent(settings):
    """A chunked body carries no Content-Length for the middleware to check: the API's
    parser reads at most the limit and refuses the rest unread."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    stream = io.BytesIO(b"[" + b"1," * 10_000 + b"1]")
    with pytest.raises(PayloadTooLarge):
        JSONBodyParser().parse(stream)
    assert stream.tell() == 101


def test_more_rows_than_a_request_takes_is_a_400_naming_the_limit(detector):
    rows = []
    for i in range(1_001):
        row = copy.deepcopy(ROW)
        row["merchant"]["external_id"] = f"E-{i}"
        rows.append(row)
    response = detector.post(FLAGS, rows, format="json")
    assert response.status_code == 400
    assert "1000" in response.json()["errors"][0]["message"]
    assert _nothing_stored()


@pytest.mark.parametrize("position", ["abc", "1.5", "1;DROP"])
def test_a_forged_cursor_is_a_404_not_a_crash(lead, position):
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    response = api_as(lead).get(f"/api/v1/labels/?cursor={cursor}")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor")


def test_unknown_api_urls_answer_in_the_error_shape(lead):
    response = api_as(lead).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "No such API endpoint.",
        "code": "not_found",
        "errors": [],
    }


def test_every_refusal_has_the_one_shape(detector, analyst):
    answers = [
        detector.post(FLAGS, [], format="json"),  # 400: empty list
        _post_raw(detector, "{not json"),  # 400: parse error
        APIClient().post(FLAGS, [ROW], format="json"),  # 401: anonymous
        api_as(analyst).post(FLAGS, [ROW], format="json"),  # 403: role
        detector.get(FLAGS),  # 405
        detector.post(FLAGS, "x", content_type="text/plain"),  # 415
    ]
    assert [a.status_code for a in answers] == [400, 400, 401, 403, 405, 415]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"detail", "code", "errors"}, body
        assert body["detail"] and body["code"]
