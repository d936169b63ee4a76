"""Training the merchant risk model: the regularisation chosen by grouped cross-validation,
the calibration chosen by cross-validated log loss, the category model beside it (the
design is in model.py's docstring). Returns the TrainedModel that model.py predicts,
explains and serialises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .calibration import ISOTONIC, choose_calibration, quality_metrics
from .folds import cross_validation_folds, grouped
from .model import (
    BLAS_THREADS,
    CalibratedLinear,
    TrainedModel,
    TrainingDataError,
    check_numeric,
)
from .taxonomy import DECISIONS, NO_CATEGORY, SUPPORTABLE, UNSURE, VIOLATING_DECISIONS

# The logistic regression's inverse regularisation strengths tried, strongest first (each
# fold's fit warm-starts from the previous value's solution).
C_GRID = (0.3, 1.0, 3.0)
MIN_CLASS_ROWS = 5  # fewer positives (or negatives) than this cannot be calibrated


def train_model(
    texts: Sequence[str],
    numeric: np.ndarray,
    decisions: Sequence[str],
    categories: Sequence[str],
    *,
    sample_weight: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> TrainedModel:
    """Fit the model on labelled merchants.

    Rows decided ``unsure`` are dropped. Violating means ``restricted`` or ``prohibited``.
    The category model learns ``"none"`` for supportable rows and the given slug for
    violating rows; violating rows without a slug (``""`` or ``"none"``) are left out of it.
    ``groups`` (one key per row, e.g. ``near_duplicate_key``) keeps rows with the same key in
    the same cross-validation fold. Raises ``TrainingDataError`` when the data cannot train
    a calibrated model.
    """
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _train(
            texts,
            numeric,
            decisions,
            categories,
            sample_weight=sample_weight,
            groups=groups,
            seed=seed,
        )


def _train(
    texts: Sequence[str],
    numeric: np.ndarray,
    decisions: Sequence[str],
    categories: Sequence[str],
    *,
    sample_weight: np.ndarray | None,
    groups: np.ndarray | None,
    seed: int,
) -> TrainedModel:
    n = len(texts)
    if not n == len(decisions) == len(categories):
        raise TrainingDataError(
            f"texts, decisions and categories differ in length: "
            f"{n}, {len(decisions)}, {len(categories)}"
        )
    if n == 0:
        raise TrainingDataError("no training rows: label some merchants first")
    numeric = check_numeric(numeric, n)
    weights = _check_weights(sample_weight, n)
    if groups is not None and len(groups) != n:
        raise TrainingDataError(f"groups must have {n} entries, got {len(groups)}")
    unknown = sorted(set(decisions) - set(DECISIONS))
    if unknown:
        raise TrainingDataError(f"unknown decisions: {', '.join(map(repr, unknown))}")

    kept = [i for i, decision in enumerate(decisions) if decision != UNSURE]
    texts = [texts[i] for i in kept]
    y = np.array([decisions[i] in VIOLATING_DECISIONS for i in kept], dtype=np.int64)
    category_labels = [
        NO_CATEGORY if decisions[i] == SUPPORTABLE else (categories[i] or NO_CATEGORY) for i in kept
    ]
    numeric, weights = numeric[kept], weights[kept]
    kept_groups = None if groups is None else np.asarray(groups)[kept]
    _check_classes(y)

    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=20_000, dtype=np.float64
    )
    try:
        text_matrix = vectorizer.fit_transform(texts)
    except ValueError as error:  # empty vocabulary
        raise TrainingDataError(
            f"the merchant texts share no terms to learn from ({error})"
        ) from error
    scaler = StandardScaler().fit(numeric, sample_weight=weights)
    matrix = sp.hstack([text_matrix, sp.csr_matrix(scaler.transform(numeric))], format="csr")

    folds = cross_validation_folds(y, groups=kept_groups, seed=seed)
    search = _search_c(matrix, y, weights, folds, seed)
    choice = choose_calibration(search.scores, y, weights, folds)
    explainer = binary_classifier(seed, search.c)
    explainer.fit(matrix, y, sample_weight=weights)
    calibrated = CalibratedLinear(
        explainer, _calibrator(choice.method, search.scores, y, weights), choice.method
    )

    category_model, constant_category = _fit_category_model(
        matrix, category_labels, y, weights, seed
    )
    metrics: dict[str, Any] = {
        "n_train": len(y),
        "n_positive": int(y.sum()),
        "n_dropped_unsure": int(n - len(y)),
        "n_terms": len(vectorizer.vocabulary_),
        "cv_folds": len(folds),
        "cv_groups": None if kept_groups is None else len(np.unique(kept_groups)),
        "cv_grouped": kept_groups is not None and grouped(folds, kept_groups),
        "C": search.c,
        "cv_average_precision_by_C": {_c_key(c): round(v, 6) for c, v in search.grid.items()},
        "calibration": choice.method,
        "cv_log_loss": {m: round(v, 6) for m, v in choice.cv_log_loss.items()},
        **quality_metrics(y, choice.probabilities, weights),
        "categories": sorted(set(category_labels)),
        "seed": seed,
        "sklearn_version": sklearn.__version__,
    }
    return TrainedModel(
        vectorizer=vectorizer,
        scaler=scaler,
        calibrated=calibrated,
        explainer=explainer,
        category_model=category_model,
        constant_category=constant_category,
        term_names=[str(t) for t in vectorizer.get_feature_names_out()],
        metrics=metrics,
    )


@dataclass(frozen=True)
class _Search:
    c: float
    grid: dict[float, float]  # C -> mean weighted average precision over the folds
    scores: np.ndarray  # the chosen C's out-of-fold decision scores


def _search_c(
    matrix: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> _Search:
    """Out-of-fold scores for every C in the grid; the C with the best mean weighted
    average precision over the folds wins (ties go to the stronger regularisation)."""
    scores = {c: np.empty(len(y), dtype=np.float64) for c in C_GRID}
    precision: dict[float, list[float]] = {c: [] for c in C_GRID}
    for train, test in folds:
        classifier = binary_classifier(seed, C_GRID[0], warm_start=True)
        x_train, x_test = matrix[train], matrix[test]
        for c in C_GRID:
            classifier.set_params(C=c)
            classifier.fit(x_train, y[train], sample_weight=weights[train])
            scores[c][test] = classifier.decision_function(x_test)
            if y[test].any():
                precision[c].append(
                    float(
                        average_precision_score(
                            y[test], scores[c][test], sample_weight=weights[test]
                        )
                    )
                )
    grid = {c: float(np.mean(values)) if values else 0.0 for c, values in precision.items()}
    best = max(C_GRID, key=lambda c: (round(grid[c], 9), -c))
    return _Search(c=best, grid=grid, scores=scores[best])


def _c_key(c: float) -> str:
    return f"{c:g}"


def _calibrator(
    method: str, scores: np.ndarray, y: np.ndarray, weights: np.ndarray
) -> IsotonicRegression | LogisticRegression:
    """The calibrator ``choose_calibration`` judged, fitted on all out-of-fold scores."""
    if method == ISOTONIC:
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        return isotonic.fit(scores, y, sample_weight=weights)
    # Platt scaling: a nearly unregularised logistic regression on the score
    return LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), y, sample_weight=weights)


def binary_classifier(seed: int, c: float = 1.0, *, warm_start: bool = False) -> LogisticRegression:
    return LogisticRegression(
        C=c, class_weight="balanced", max_iter=2000, random_state=seed, warm_start=warm_start
    )


def _fit_category_model(
    matrix: sp.csr_matrix,
    labels: Sequence[str],
    y: np.ndarray,
    weights: np.ndarray,
    seed: int,
) -> tuple[LogisticRegression | None, str]:
    # a violating row labelled "none" has no known category: leave it out
    known = np.array([not (v and label == NO_CATEGORY) for label, v in zip(labels, y, strict=True)])
    known_labels = np.array(labels, dtype=object)[known]
    distinct = sorted(set(known_labels))
    if len(distinct) == 1:
        return None, distinct[0]
    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(matrix[known], known_labels.astype(str), sample_weight=weights[known])
    return model, NO_CATEGORY


def _check_weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise TrainingDataError(f"sample_weight must have shape ({n},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise TrainingDataError("sample_weight must be finite and non-negative")
    if n and weights.sum() <= 0:
        raise TrainingDataError("sample_weight must not be all zero")
    return weights


def _check_classes(y: np.ndarray) -> None:
    if len(y) == 0:
        raise TrainingDataError("every labelled row is 'unsure': nothing to train on")
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        present = "violating (restricted/prohibited)" if negatives == 0 else "supportable"
        raise TrainingDataError(
            f"all {len(y)} training rows are {present}: need both supportable and "
            "violating merchants"
        )
    if positives < MIN_CLASS_ROWS:
        raise TrainingDataError(
            f"only {positives} violating rows: need at least {MIN_CLASS_ROWS} to calibrate"
        )
    if negatives < MIN_CLASS_ROWS:
        raise TrainingDataError(
            f"only {negatives} supportable rows: need at least {MIN_CLASS_ROWS} to calibrate"
        )
