"""Train, calibrate, predict, explain and serialise the merchant risk model.

Design: TF-IDF over the merchant text plus standardized numeric features feed a
class-balanced logistic regression whose ``C`` is chosen from a small grid by
cross-validated, weighted average precision. Folds keep near-duplicate merchants (one
``groups`` value) together, so a merchant's twin never scores it. The chosen ``C``'s
out-of-fold scores then choose sigmoid or isotonic calibration by cross-validated log loss,
and the chosen calibrator is fitted on all of them: what ``CalibratedClassifierCV(
ensemble=False)`` does, without fitting the folds a second time. A multinomial logistic
regression over the same features suggests the policy category. Explanations come from
the plain logistic regression fitted on all rows (the one inside the calibrated model).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .calibration import ISOTONIC, choose_calibration, quality_metrics
from .explanation import TOP_TERMS, explain
from .features import NUMERIC_FEATURES, numeric_raw_values, tfidf_transform
from .folds import cross_validation_folds, grouped
from .taxonomy import DECISIONS, NO_CATEGORY, SUPPORTABLE, UNSURE, VIOLATING_DECISIONS

MIN_CLASS_ROWS = 5  # fewer positives (or negatives) than this cannot be calibrated
# The logistic regression's inverse regularisation strengths tried, strongest first (each
# fold's fit warm-starts from the previous value's solution).
C_GRID = (0.3, 1.0, 3.0)
DECISION_THRESHOLD = 0.5  # below it, the predicted category is "none"
TOP_CATEGORIES = 3
# L-BFGS makes many tiny BLAS calls; with several BLAS threads they contend and training
# runs 3-20x slower, so training and scoring pin BLAS to one thread.
BLAS_THREADS = 1


class TrainingDataError(ValueError):
    """The labelled data cannot train a model (empty, one class, too few positives...)."""


class ModelLoadError(ValueError):
    """A stored model blob is corrupt, tampered with, or not a ``TrainedModel``."""


@dataclass(frozen=True)
class Prediction:
    probability: float  # calibrated P(violating)
    category: str  # "none" below DECISION_THRESHOLD, else the likeliest violation category
    explanation: dict[str, Any]  # JSON-serialisable, see ``TrainedModel.predict``


@dataclass(frozen=True)
class ScoredBatch:
    """``TrainedModel.predict``'s answers as arrays and JSON text, for bulk writes:
    ``explanations[i]`` is ``json.dumps`` of the i-th prediction's explanation."""

    probabilities: np.ndarray
    categories: list[str]
    explanations: list[str]


@dataclass
class CalibratedLinear:
    """A linear classifier fitted on all rows and a calibrator fitted on its out-of-fold
    scores: ``CalibratedClassifierCV(ensemble=False)`` with the folds fitted once."""

    estimator: LogisticRegression
    calibrator: IsotonicRegression | LogisticRegression
    method: str

    def predict_proba(self, matrix: sp.csr_matrix) -> np.ndarray:
        scores = self.estimator.decision_function(matrix)
        if isinstance(self.calibrator, IsotonicRegression):
            positive = np.asarray(self.calibrator.predict(scores), dtype=np.float64)
        else:
            positive = self.calibrator.predict_proba(scores.reshape(-1, 1))[:, 1]
        return np.column_stack([1.0 - positive, positive])


@dataclass
class TrainedModel:
    vectorizer: TfidfVectorizer
    scaler: StandardScaler
    # CalibratedClassifierCV in blobs written before the C search; both predict the same way
    calibrated: CalibratedLinear | CalibratedClassifierCV
    explainer: LogisticRegression  # uncalibrated, fitted on all rows
    category_model: LogisticRegression | None  # None when one category only
    constant_category: str  # used when category_model is None
    term_names: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    sklearn_version: str = sklearn.__version__

    def predict_proba(self, texts: Sequence[str], numeric: np.ndarray) -> np.ndarray:
        """Calibrated probability of violating, shape ``(n,)``."""
        if len(texts) == 0:
            return np.empty(0, dtype=np.float64)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            matrix, _, _ = self._features(texts, numeric)
            return np.asarray(self.calibrated.predict_proba(matrix)[:, 1], dtype=np.float64)

    def predict(self, texts: Sequence[str], numeric: np.ndarray) -> list[Prediction]:
        """Probability, category and explanation per merchant.

        ``explanation`` is ``{"terms": [[term, weight], ...], "features": [[name,
        raw_value, weight], ...], "categories": [[slug, p], ...]}``: up to six terms with the
        largest positive contribution to this merchant's score, every numeric feature by
        absolute contribution, and the likeliest violation categories with
        P(category | violating).
        """
        if len(texts) == 0:
            return []
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return self._predict(texts, numeric)

    def _predict(self, texts: Sequence[str], numeric: np.ndarray) -> list[Prediction]:
        matrix, text_matrix, standardized = self._features(texts, numeric)
        probabilities = self.calibrated.predict_proba(matrix)[:, 1]
        n_text = text_matrix.shape[1]
        coef = self.explainer.coef_[0]
        explanations = explain(
            text_matrix,
            coef[:n_text],
            self.term_names,
            standardized,
            numeric_raw_values(numeric),
            coef[n_text:],
            NUMERIC_FEATURES,
        )
        top_categories = self._violation_categories(matrix)
        predictions = []
        for probability, explanation, categories in zip(
            probabilities, explanations, top_categories, strict=True
        ):
            explanation["categories"] = categories
            category = NO_CATEGORY
            if probability >= DECISION_THRESHOLD and categories:
                category = categories[0][0]
            predictions.append(Prediction(float(probability), category, explanation))
        return predictions

    def _features(
        self, texts: Sequence[str], numeric: np.ndarray
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        numeric = _check_numeric(numeric, len(texts))
        text_matrix = tfidf_transform(self.vectorizer, texts)
        standardized = self.scaler.transform(numeric)
        matrix = sp.hstack([text_matrix, sp.csr_matrix(standardized)], format="csr")
        return matrix, text_matrix, standardized

    def score_batch(self, texts: Sequence[str], numeric: np.ndarray) -> ScoredBatch:
        """What ``predict`` says, without a Python object per merchant: the explanations come
        as the JSON text ``json.dumps`` would write for them, built column by column (the
        bulk rescoring's path; tests hold the two paths to the same output)."""
        if len(texts) == 0:
            return ScoredBatch(np.empty(0, dtype=np.float64), [], [])
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            matrix, text_matrix, standardized = self._features(texts, numeric)
            probabilities = np.asarray(self.calibrated.predict_proba(matrix)[:, 1], np.float64)
            categories, first = self._categories_json(matrix)
        n_text = text_matrix.shape[1]
        coef = self.explainer.coef_[0]
        terms = _terms_json(text_matrix, coef[:n_text], self.term_names)
        features = _features_json(standardized, numeric_raw_values(numeric), coef[n_text:])
        explanations = [
            f'{{"terms": [{t}], "features": [{f}], "categories": [{c}]}}'
            for t, f, c in zip(terms, features, categories, strict=True)
        ]
        flagged = (probabilities >= DECISION_THRESHOLD).tolist()
        return ScoredBatch(
            probabilities,
            [top if (up and top) else NO_CATEGORY for up, top in zip(flagged, first, strict=True)],
            explanations,
        )

    def _violation_categories(self, matrix: sp.csr_matrix) -> list[list[list[Any]]]:
        """Per row, the top violation categories with P(category | violating)."""
        n = matrix.shape[0]
        if self.category_model is None:
            if self.constant_category == NO_CATEGORY:
                return [[] for _ in range(n)]
            return [[[self.constant_category, 1.0]] for _ in range(n)]
        top = _category_top(self.category_model, matrix)
        if top is None:
            return [[] for _ in range(n)]
        names, order, rounded = top
        return [[[names[j], float(rounded[i, j])] for j in order[i]] for i in range(n)]

    def _categories_json(self, matrix: sp.csr_matrix) -> tuple[list[str], list[str]]:
        """Per row, ``_violation_categories`` as JSON (without the brackets), and the first
        category ("" when there is none)."""
        n = matrix.shape[0]
        if self.category_model is None:
            if self.constant_category == NO_CATEGORY:
                return [""] * n, [""] * n
            item = f"[{json.dumps(self.constant_category)}, {1.0!r}]"
            return [item] * n, [self.constant_category] * n
        top = _category_top(self.category_model, matrix)
        if top is None:
            return [""] * n, [""] * n
        names, order, rounded = top
        encoded = [json.dumps(name) for name in names]
        values = rounded.tolist()
        order_rows = order.tolist()
        return (
            [
                ", ".join([f"[{encoded[j]}, {row_values[j]!r}]" for j in row_order])
                for row_order, row_values in zip(order_rows, values, strict=True)
            ],
            [names[row_order[0]] if row_order else "" for row_order in order_rows],
        )


def _category_top(
    category_model: LogisticRegression, matrix: sp.csr_matrix
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """The violation categories' names, each row's top columns, and P(category |
    violating) rounded; None when the model knows no violation category."""
    classes = [str(c) for c in category_model.classes_]
    violation_columns = [j for j, c in enumerate(classes) if c != NO_CATEGORY]
    if not violation_columns:
        return None
    probabilities = category_model.predict_proba(matrix)[:, violation_columns]
    probabilities /= np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    top = min(TOP_CATEGORIES, len(violation_columns))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    names = [classes[j] for j in violation_columns]
    return names, order, np.round(probabilities, 4)


def _terms_json(
    text_matrix: sp.csr_matrix, text_coef: np.ndarray, term_names: Sequence[str]
) -> list[str]:
    """Per row, ``explanation.explain``'s top terms as JSON (without the brackets)."""
    matrix = sp.csr_matrix(text_matrix)
    n = matrix.shape[0]
    rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
    contributions = matrix.data * text_coef[matrix.indices]
    positive = contributions > 0
    rows, columns, contributions = rows[positive], matrix.indices[positive], contributions[positive]
    # by row, then by contribution descending; the first TOP_TERMS of each row
    order = np.lexsort((-contributions, rows))
    rows, columns, contributions = rows[order], columns[order], contributions[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = rank < TOP_TERMS
    rows, columns = rows[keep], columns[keep].tolist()
    weights = np.round(contributions[keep], 4).tolist()
    encoded = {c: json.dumps(term_names[c]) for c in set(columns)}
    items = [f"[{encoded[c]}, {w!r}]" for c, w in zip(columns, weights, strict=True)]
    bounds = np.searchsorted(rows, np.arange(n + 1), side="left").tolist()
    return [", ".join(items[bounds[i] : bounds[i + 1]]) for i in range(n)]


def _features_json(
    standardized: np.ndarray, raw: np.ndarray, numeric_coef: np.ndarray
) -> list[str]:
    """Per row, ``explanation.explain``'s numeric features as JSON (without the brackets):
    name, the raw value as displayed, and the contribution, largest magnitude first."""
    contributions = standardized * numeric_coef[np.newaxis, :]
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable").tolist()
    rounded = np.round(contributions, 4)
    cells = []
    for j, name in enumerate(NUMERIC_FEATURES):
        values = raw[:, j].tolist()
        if name == "account_age_days":
            shown = [str(round(v)) for v in values]
        elif name == "monthly_volume":
            shown = [repr(round(v, 2)) for v in values]
        else:
            shown = [repr(round(v, 6)) for v in values]
        key = json.dumps(name)
        cells.append(
            [f"[{key}, {v}, {w!r}]" for v, w in zip(shown, rounded[:, j].tolist(), strict=True)]
        )
    return [", ".join([cells[j][i] for j in row]) for i, row in enumerate(order)]


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
    numeric = _check_numeric(numeric, n)
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
    explainer = _binary_classifier(seed, search.c)
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
        classifier = _binary_classifier(seed, C_GRID[0], warm_start=True)
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


def _binary_classifier(
    seed: int, c: float = 1.0, *, warm_start: bool = False
) -> LogisticRegression:
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


def _check_numeric(numeric: np.ndarray, n: int) -> np.ndarray:
    numeric = np.asarray(numeric, dtype=np.float64)
    if numeric.ndim != 2 or numeric.shape != (n, len(NUMERIC_FEATURES)):
        raise ValueError(
            f"numeric must have shape ({n}, {len(NUMERIC_FEATURES)}), got {numeric.shape}; "
            "build it with features.numeric_matrix"
        )
    if not np.isfinite(numeric).all():
        raise ValueError("numeric contains NaN or infinite values")
    return numeric


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


def dump_model(model: TrainedModel) -> bytes:
    """Serialise with joblib (zlib-compressed pickle)."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=("zlib", 3))
    return buffer.getvalue()


def load_model(blob: bytes, *, expected_sha256: str | None = None) -> TrainedModel:
    """Load a blob written by ``dump_model``.

    Unpickling runs code: load only blobs this app wrote. Pass the stored
    ``expected_sha256`` to refuse a blob that changed since it was registered.
    """
    if expected_sha256 is not None and sha256_of(blob) != expected_sha256:
        raise ModelLoadError("model blob does not match its recorded SHA-256")
    try:
        model = joblib.load(io.BytesIO(blob))
    except (pickle.UnpicklingError, EOFError, zlib.error, KeyError, ValueError) as error:
        raise ModelLoadError(f"cannot read model blob: {error!r}") from error
    if not isinstance(model, TrainedModel):
        raise ModelLoadError(f"blob holds a {type(model).__name__}, not a TrainedModel")
    return model


# The models a process loaded last, by SHA-256: a worker scoring chunk after chunk with
# one model unpickles it once.
_LOADED: dict[str, TrainedModel] = {}
_LOADED_MAX = 2


def load_model_cached(blob: bytes, *, expected_sha256: str) -> TrainedModel:
    """``load_model``, once per blob and process. The model returned is shared: read-only."""
    if sha256_of(blob) != expected_sha256:
        raise ModelLoadError("model blob does not match its recorded SHA-256")
    model = _LOADED.get(expected_sha256)
    if model is None:
        model = load_model(blob)
        while len(_LOADED) >= _LOADED_MAX:
            del _LOADED[next(iter(_LOADED))]
        _LOADED[expected_sha256] = model
    return model


def sha256_of(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
