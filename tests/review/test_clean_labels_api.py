"""The clean-labels endpoint a retraining job reads: order, provenance, filters, queries.
Who may call it is tested with the snapshot endpoints (test_snapshot_api.py)."""

from __future__ import annotations

import base64

import pytest

from review.models import CleanLabel
from tests.clients import api_as, error_fields
from tests.factories import MerchantFactory, clean_label

CLEAN_LABELS = "/api/v1/clean-labels/"

pytestmark = pytest.mark.django_db


def test_clean_labels_are_listed_in_merchant_order_with_their_provenance(lead):
    merchants = [MerchantFactory() for _ in range(3)]
    for m in reversed(merchants):
        clean_label(m, label_ids=[m.pk * 10])
    page = api_as(lead).get(f"{CLEAN_LABELS}?page_size=2").json()
    assert [r["merchant_id"] for r in page["results"]] == [m.pk for m in merchants[:2]]
    first = page["results"][0]
    assert first == {
        "merchant_id": merchants[0].pk,
        "merchant_external_id": merchants[0].external_id,
        "decision": "prohibited",
        "category": "pseudo-pharmaceuticals",
        "source": "agreement",
        "confidence": 0.9,
        "for_training": True,
        "propensity": 0.25,
        "label_ids": [merchants[0].pk * 10],
        "computed_at": first["computed_at"],
    }
    assert first["computed_at"]
    rest = api_as(lead).get(page["next"]).json()
    assert [r["merchant_id"] for r in rest["results"]] == [merchants[2].pk]


def test_clean_labels_filter_by_source_and_for_training(reader):
    gold = clean_label(source=CleanLabel.Source.GOLD)
    estimate = clean_label(source=CleanLabel.Source.ESTIMATE, for_training=False)
    agreement = clean_label()
    client = reader

    def ids(query: str) -> list[int]:
        response = client.get(f"{CLEAN_LABELS}?{query}")
        assert response.status_code == 200
        return [r["merchant_id"] for r in response.json()["results"]]

    assert ids("source=gold") == [gold.merchant_id]
    assert ids("for_training=false") == [estimate.merchant_id]
    assert ids("for_training=true") == [gold.merchant_id, agreement.merchant_id]
    assert ids("source=estimate&for_training=true") == []
    everyone = [gold.merchant_id, estimate.merchant_id, agreement.merchant_id]
    assert ids("source=&for_training=") == everyone  # an empty field filters nothing, as in a form


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("source=hunch", "source"),
        ("source=GOLD", "source"),
        ("for_training=maybe", "for_training"),
        ("for_training=1", "for_training"),
    ],
)
def test_clean_labels_with_a_bad_filter_are_400_naming_it(query, field, reader):
    clean_label()
    response = reader.get(f"{CLEAN_LABELS}?{query}")
    assert response.status_code == 400
    assert field in error_fields(response)


def test_clean_labels_list_does_not_query_per_row(django_assert_num_queries, reader):
    client = reader
    for _ in range(3):
        clean_label()
    client.get(CLEAN_LABELS)  # the token's first use of its window is recorded (once)
    with django_assert_num_queries(3):
        assert len(client.get(CLEAN_LABELS).json()["results"]) == 3
    for _ in range(4):
        clean_label()
    with django_assert_num_queries(3):
        assert len(client.get(CLEAN_LABELS).json()["results"]) == 7


@pytest.mark.parametrize("position", [str(2**63), str(-(2**63) - 1)])
def test_a_cursor_past_the_id_range_is_a_404(lead, position):
    # It was a 500 on SQLite: a merchant id past 64 bits cannot be bound to a query.
    clean_label()
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    response = api_as(lead).get(CLEAN_LABELS, {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Invalid cursor")
