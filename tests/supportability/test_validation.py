"""The stored-value rules (supportability.validation), as every entry point applies them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from supportability import validation
from supportability.errors import InvalidInput
from supportability.models import Merchant, Score
from supportability.services import merchants_create
from tests.factories import MerchantFactory, ScoreFactory

GOOD = {
    "external_id": "M-1",
    "name": "Shop",
    "country": "GB",
    "mcc": "5999",
    "url": "",
    "description": "",
    "website_text": "",
    "refund_rate": 0.1,
    "dispute_rate": 0.0,
    "cnp_share": 1,
    "account_age_days": 12,
    "monthly_volume": 1_000.5,
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monthly_volume", math.nan, "finite"),
        ("monthly_volume", math.inf, "finite"),
        ("refund_rate", -math.inf, "finite"),
        ("refund_rate", True, "not a boolean"),
        ("cnp_share", "0.5", "not str"),
        ("dispute_rate", 1.5, "between 0 and 1"),
        ("monthly_volume", 1e13, "between"),
        # JSON integers past the largest float were an OverflowError (a 500).
        pytest.param("monthly_volume", 10**400, "between", id="monthly_volume-10**400"),
        pytest.param("account_age_days", -(10**400), "between", id="account_age_days--10**400"),
        ("account_age_days", 3.5, "whole number"),
        ("mcc", "٥٩٩٣", "four ASCII digits"),  # Arabic-Indic digits: \d matches them
        ("mcc", "5999\n", "four ASCII digits"),
        ("mcc", 5999, "four ASCII digits"),
        ("country", "gb", "two capital letters"),
        ("name", "Sh\x00p", "NUL"),
        ("description", "x" * 10_001, "At most 10,000"),
        ("external_id", "M\t1", "control characters"),
        ("website_text", "\ud800", "surrogate"),
    ],
)
def test_merchant_values_refuse_what_cannot_be_stored(field, value, message):
    with pytest.raises(InvalidInput) as refused:
        validation.merchant_values(GOOD | {field: value}, prefix="[7].")
    assert refused.value.field == f"[7].{field}"
    assert message in refused.value.message


def test_merchant_values_normalise_numbers_from_numpy():
    checked = validation.merchant_values(
        GOOD | {"account_age_days": np.int64(40), "monthly_volume": np.float32(2.5)}
    )
    assert checked["account_age_days"] == 40 and type(checked["account_age_days"]) is int
    assert checked["monthly_volume"] == 2.5 and type(checked["monthly_volume"]) is float


def test_explanation_errors_name_the_path_inside_the_value():
    bad = {"terms": [["pills", 1.0], ["cheap", math.nan]], "features": 5}
    errors = dict(validation.explanation_errors(bad))
    assert errors["explanation.terms[1][1]"] == "Must be a finite number."
    assert "explanation.features" in errors


@pytest.mark.parametrize(
    "value",
    [
        {"terms": 5},
        {"terms": [["a\x00b", 1.0]]},
        {"terms": [["ok", 1.0, "extra"]]},
        {"categories": [["Not A Slug", 0.5]]},
        {"categories": [["gambling", 2.0]]},
        {"terms": [["pills", 10**400]]},  # past the largest float: was an OverflowError
        {"surprise": []},
        [["terms"]],
        "text",
    ],
)
def test_malformed_explanations_are_refused_and_read_as_unavailable(value):
    with pytest.raises(InvalidInput) as refused:
        validation.explanation(value)
    assert refused.value.field.startswith("explanation")
    assert validation.explanation_read(value) is None


def test_a_well_formed_explanation_reads_as_typed_values():
    read = validation.explanation_read(
        {"terms": [["pills", 1]], "features": [["refund_rate", 0.2, -0.5]], "categories": []}
    )
    assert read is not None
    assert read.terms[0].term == "pills" and read.terms[0].weight == 1.0
    assert read.features[0].name == "refund_rate" and read.features[0].weight == -0.5


@pytest.mark.django_db
def test_the_seed_path_refuses_a_merchant_the_api_would_refuse():
    with pytest.raises(InvalidInput) as refused:
        merchants_create([GOOD, GOOD | {"external_id": "M-2", "monthly_volume": math.inf}])
    assert refused.value.field == "[1].monthly_volume"
    assert not Merchant.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_volume", math.inf),
        ("monthly_volume", -1.0),
        ("monthly_volume", math.nan),
        ("refund_rate", math.nan),
        ("account_age_days", 10**7),
    ],
)
def test_the_database_refuses_non_finite_or_out_of_range_merchant_numbers(field, value):
    """The CHECK constraints back the validators: a path that skips them still cannot
    store the value (SQLite keeps NaN as NULL, which NOT NULL refuses)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantFactory(**{field: value})


@pytest.mark.django_db
@pytest.mark.parametrize("value", [math.nan, math.inf, 1.5])
def test_the_database_refuses_a_score_outside_zero_to_one(value):
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoreFactory(probability=value)
    assert not Score.objects.filter(probability__gt=1).exists()
