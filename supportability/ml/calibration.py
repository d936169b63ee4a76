"""Choose a calibration method by cross-validated log loss and measure calibration quality.

Works on out-of-fold decision scores of the base classifier: each calibrator is fitted on
the scores of the other folds and judged on the held-out fold, which estimates how the
calibration that ``CalibratedClassifierCV(ensemble=False)`` fits on all out-of-fold scores
will generalise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

SIGMOID = "sigmoid"
ISOTONIC = "isotonic"
# Isotonic regression overfits small samples; only consider it from this many rows.
ISOTONIC_MIN_ROWS = 1000
ECE_BINS = 10


@dataclass(frozen=True)
class CalibrationChoice:
    method: str
    cv_log_loss: dict[str, float]  # per method considered
    probabilities: np.ndarray  # out-of-fold calibrated probabilities of the chosen method


def calibration_methods(n_rows: int) -> tuple[str, ...]:
    return (SIGMOID, ISOTONIC) if n_rows >= ISOTONIC_MIN_ROWS else (SIGMOID,)


def choose_calibration(
    scores: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> CalibrationChoice:
    """Pick the method with the lowest cross-validated log loss (ties go to sigmoid)."""
    losses: dict[str, float] = {}
    probabilities: dict[str, np.ndarray] = {}
    for method in calibration_methods(len(y)):
        calibrated = np.empty(len(y), dtype=np.float64)
        for train, test in folds:
            calibrated[test] = _fit_predict(
                method, scores[train], y[train], sample_weight[train], scores[test]
            )
        probabilities[method] = calibrated
        losses[method] = float(log_loss(y, calibrated, sample_weight=sample_weight, labels=[0, 1]))
    method = min(losses, key=lambda m: (losses[m], m != SIGMOID))
    return CalibrationChoice(method=method, cv_log_loss=losses, probabilities=probabilities[method])


def _fit_predict(
    method: str,
    scores: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    new_scores: np.ndarray,
) -> np.ndarray:
    if method == ISOTONIC:
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(scores, y, sample_weight=sample_weight)
        return np.asarray(isotonic.predict(new_scores), dtype=np.float64)
    # Platt scaling: a nearly unregularised logistic regression on the score
    platt = LogisticRegression(C=1e4)
    platt.fit(scores.reshape(-1, 1), y, sample_weight=sample_weight)
    return np.asarray(platt.predict_proba(new_scores.reshape(-1, 1))[:, 1], dtype=np.float64)


def expected_calibration_error(
    y: np.ndarray,
    probabilities: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    bins: int = ECE_BINS,
) -> float:
    """Weighted mean gap between predicted and observed rates over equal-width bins."""
    y = np.asarray(y, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    weights = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
    total = weights.sum()
    if len(y) == 0 or total <= 0:
        return 0.0
    index = np.minimum((probabilities * bins).astype(np.int64), bins - 1)
    bin_predicted = np.bincount(index, weights=weights * probabilities, minlength=bins)
    bin_observed = np.bincount(index, weights=weights * y, minlength=bins)
    return float(np.abs(bin_predicted - bin_observed).sum() / total)


def quality_metrics(
    y: np.ndarray, probabilities: np.ndarray, sample_weight: np.ndarray
) -> dict[str, float]:
    """Ranking and calibration metrics of probabilities against 0/1 labels."""
    return {
        "roc_auc": round(float(roc_auc_score(y, probabilities, sample_weight=sample_weight)), 6),
        "average_precision": round(
            float(average_precision_score(y, probabilities, sample_weight=sample_weight)), 6
        ),
        "brier": round(float(brier_score_loss(y, probabilities, sample_weight=sample_weight)), 6),
        "ece": round(expected_calibration_error(y, probabilities, sample_weight), 6),
        "log_loss": round(
            float(log_loss(y, probabilities, sample_weight=sample_weight, labels=[0, 1])), 6
        ),
    }
