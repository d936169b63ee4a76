from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from supportability.ml.calibration import (
    calibration_methods,
    choose_calibration,
    expected_calibration_error,
)


def test_ece_is_zero_when_rates_match_predictions() -> None:
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    assert expected_calibration_error(y, np.full(8, 0.25)) == pytest.approx(0.0)


def test_ece_measures_the_gap() -> None:
    y = np.array([0, 0, 0, 0])
    assert expected_calibration_error(y, np.full(4, 0.3)) == pytest.approx(0.3)


def test_isotonic_is_only_considered_from_a_thousand_rows() -> None:
    assert calibration_methods(999) == ("sigmoid",)
    assert calibration_methods(1_000) == ("sigmoid", "isotonic")


def test_choice_returns_out_of_fold_probabilities_of_the_chosen_method() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(1_200) < 0.1).astype(np.int64)
    scores = rng.normal(2.0 * y, 1.0)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(scores, y))
    choice = choose_calibration(scores, y, np.ones(len(y)), folds)
    assert set(choice.cv_log_loss) == {"sigmoid", "isotonic"}
    assert choice.cv_log_loss[choice.method] == min(choice.cv_log_loss.values())
    assert choice.probabilities.shape == y.shape
    assert abs(choice.probabilities.mean() - y.mean()) < 0.02
