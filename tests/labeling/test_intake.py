from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from labeling import services
from labeling.models import ReviewItem, SamplingRound
from supportability.models import AuditEvent, Merchant, ModelVersion, Score
from supportability.services import token_create
from tests.clients import bearer, error_fields
from tests.factories import MerchantFactory, scored_population

pytestmark = pytest.mark.django_db

ROW = {
    "merchant": {
        "external_id": "EXT-1",
        "name": "Peptide Lab <b>Research</b>",
        "country": "US",
        "mcc": "5122",
        "url": "https://peptides.example",
        "description": "Research peptides, not for human consumption*",
        "website_text": "BPC-157 for fast recovery. Ships worldwide.",
        "refund_rate": 0.05,
        "dispute_rate": 0.01,
        "cnp_share": 1.0,
        "account_age_days": 30,
        "monthly_volume": 90000,
    },
    "model": {"name": "upstream-pharma", "version": "2026.11"},
    "score": 0.93,
    "category": "pseudo-pharmaceuticals",
    "explanation": {"terms": [["peptides", 2.1]]},
}


@pytest.fixture
def detector() -> APIClient:
    _, secret = token_create(name="detector", scopes=["flags:write"])
    client = bearer(secret)
    return client


def _rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row: dict[str, Any] = copy.deepcopy(ROW)
        row["merchant"]["external_id"] = f"EXT-{i}"
        rows.append(row)
    return rows


def test_intake_upserts_merchants_records_scores_and_enqueues(detector):
    response = detector.post("/api/v1/flags/", _rows(3), format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "merchants_created": 3,
        "merchants_updated": 0,
        "scores_created": 3,
        "scores_unchanged": 0,
        "items_enqueued": 3,
    }
    assert Merchant.objects.count() == 3
    assert ModelVersion.objects.get().status == ModelVersion.Status.EXTERNAL
    item = ReviewItem.objects.get(merchant__external_id="EXT-0")
    assert item.reason == ReviewItem.Reason.UPSTREAM
    assert item.priority == pytest.approx(0.93) and item.propensity == 1.0
    assert item.score.predicted_category.slug == "pseudo-pharmaceuticals"
    assert AuditEvent.objects.filter(verb="flags.ingest").count() == 1
    assert AuditEvent.objects.filter(verb="item.enqueue").count() == 3


def test_intake_is_idempotent_on_merchant_model_and_version(detector):
    detector.post("/api/v1/flags/", _rows(2), format="json")
    events = AuditEvent.objects.count()
    response = detector.post("/api/v1/flags/", _rows(2), format="json")
    assert response.json()["scores_created"] == 0
    assert response.json()["scores_unchanged"] == 2
    assert Score.objects.count() == 2
    assert ReviewItem.objects.count() == 2
    assert AuditEvent.objects.count() == events


def test_intake_updates_an_existing_merchant_and_keeps_one_open_item(detector):
    MerchantFactory(external_id="EXT-0", name="Old name")
    detector.post("/api/v1/flags/", _rows(1), format="json")
    newer = _rows(1)
    newer[0]["model"]["version"] = "2026.12"
    newer[0]["score"] = 0.99
    body = detector.post("/api/v1/flags/", newer, format="json").json()
    assert body["scores_created"] == 1 and body["items_enqueued"] == 0
    merchant = Merchant.objects.get(external_id="EXT-0")
    assert merchant.name == ROW["merchant"]["name"]
    item = ReviewItem.objects.get(merchant=merchant)
    assert item.priority == pytest.approx(0.99)


def test_invalid_row_is_rejected_with_field_errors_and_nothing_written(detector):
    rows = _rows(3)
    rows[1]["merchant"]["mcc"] = "12x"
    rows[2]["score"] = 1.5
    response = detector.post("/api/v1/flags/", rows, format="json")
    assert response.status_code == 400
    errors = error_fields(response)
    assert not any(field.startswith("[0]") for field in errors)
    assert "[1].merchant.mcc" in errors
    assert "[2].score" in errors
    assert Merchant.objects.count() == 0 and Score.objects.count() == 0


def test_unknown_category_is_named(detector):
    rows = _rows(1)
    rows[0]["category"] = "space-weapons"
    response = detector.post("/api/v1/flags/", rows, format="json")
    assert response.status_code == 400
    assert "[0].category" in error_fields(response)


def test_intake_needs_the_flags_scope(make_user):
    _, secret = token_create(name="reader", scopes=["labels:read"])
    client = bearer(secret)
    assert client.post("/api/v1/flags/", _rows(1), format="json").status_code == 403
    client.credentials(HTTP_AUTHORIZATION="Bearer sr_not-a-token")
    assert client.post("/api/v1/flags/", _rows(1), format="json").status_code == 401
    session = APIClient()
    session.force_authenticate(make_user("analyst"))
    assert session.post("/api/v1/flags/", _rows(1), format="json").status_code == 403
    assert Merchant.objects.count() == 0


def test_an_upstream_flag_on_a_drawn_item_keeps_its_place_in_the_round():
    """Its priority says where it sits in its round, not its score, which the analyst may
    not be shown; raising it to the flag's score would give the score away."""
    scored_population(50, seed=2)
    queue = services.queue_default()
    drawn = services.queue_draw(queue_id=queue.pk, rng=np.random.default_rng(0))
    item = SamplingRound.objects.get(pk=drawn.pk).items.first()
    before = item.priority
    services.items_enqueue(
        entries=[services.Enqueue(item.merchant_id, None, 0.97, 1.0, ReviewItem.Reason.UPSTREAM)]
    )
    item.refresh_from_db()
    assert item.priority == before and item.propensity == 1.0
