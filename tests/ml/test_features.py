from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from supportability.ml.features import (
    NUMERIC_FEATURES,
    merchant_text,
    numeric_matrix,
    numeric_raw_values,
)

ROW = {
    "refund_rate": 0.05,
    "dispute_rate": 0.004,
    "cnp_share": 0.9,
    "account_age_days": 365,
    "monthly_volume": 25_000.0,
}


def test_numeric_matrix_has_one_float_column_per_feature() -> None:
    matrix = numeric_matrix([ROW, ROW])
    assert matrix.shape == (2, len(NUMERIC_FEATURES))
    assert matrix.dtype == np.float64


def test_volume_and_age_are_log_scaled() -> None:
    matrix = numeric_matrix([ROW])
    age = NUMERIC_FEATURES.index("account_age_days")
    volume = NUMERIC_FEATURES.index("monthly_volume")
    assert matrix[0, age] == pytest.approx(np.log1p(365))
    assert matrix[0, volume] == pytest.approx(np.log1p(25_000))


def test_raw_values_undo_the_transforms() -> None:
    raw = numeric_raw_values(numeric_matrix([ROW]))
    assert raw[0] == pytest.approx([ROW[f] for f in NUMERIC_FEATURES])


def test_empty_rows_give_an_empty_matrix() -> None:
    assert numeric_matrix([]).shape == (0, len(NUMERIC_FEATURES))


def test_decimals_are_accepted() -> None:
    row: dict[str, Any] = {**ROW, "refund_rate": Decimal("0.05")}
    assert numeric_matrix([row]) == pytest.approx(numeric_matrix([ROW]))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({k: v for k, v in ROW.items() if k != "cnp_share"}, "row 0 has no value for 'cnp_share'"),
        ({**ROW, "refund_rate": None}, "refund_rate=None is not a number"),
        ({**ROW, "monthly_volume": float("nan")}, "not finite"),
    ],
)
def test_bad_values_are_reported_by_row_and_feature(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        numeric_matrix([row])


def test_merchant_text_joins_the_parts() -> None:
    text = merchant_text("Bean & Co", "Coffee roasters.", "We roast beans.")
    assert "Bean & Co" in text and "Coffee roasters." in text and "We roast beans." in text


def test_merchant_text_tags_country_and_mcc_when_given() -> None:
    text = merchant_text("A", "b", "c", country="IR", mcc="5999")
    assert "country_ir" in text and "mcc_5999" in text
    assert "country_" not in merchant_text("A", "b", "c")
