"""Train, calibrate, predict, explain and serialise the merchant risk model.

Design: TF-IDF over the merchant text plus standardized numeric features feed a
class-balanced logistic regression; ``CalibratedClassifierCV(ensemble=False)`` turns its
scores into probabilities of violating (decision restricted or prohibited), with sigmoid or
isotonic calibration chosen by cross-validated log loss. A multinomial logistic regression
over the same features suggests the policy category. Explanations come from the plain
logistic regression fitted on all rows (the one inside the calibrated model).
"""

from __future__ import annotations

import hashlib
import io
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
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .calibration import choose_calibration, quality_metrics
from .explanation import explain
from .features import NUMERIC_FEATURES, numeric_raw_values
from .taxonomy import DECISIONS, NO_CATEGORY, SUPPORTABLE, UNSURE, VIOLATING_DECISIONS

MIN_CLASS_ROWS = 5  # fewer positives (or negatives) than this cannot be calibrated
CV_FOLDS = 5
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


@dataclass
class TrainedModel:
    vectorizer: TfidfVectorizer
    scaler: StandardScaler
    calibrated: CalibratedClassifierCV
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
        text_matrix = self.vectorizer.transform(texts)
        standardized = self.scaler.transform(numeric)
        matrix = sp.hstack([text_matrix, sp.csr_matrix(standardized)], format="csr")
        return matrix, text_matrix, standardized

    def _violation_categories(self, matrix: sp.csr_matrix) -> list[list[list[Any]]]:
        """Per row, the top violation categories with P(category | violating)."""
        n = matrix.shape[0]
        if self.category_model is None:
            if self.constant_category == NO_CATEGORY:
                return [[] for _ in range(n)]
            return [[[self.constant_category, 1.0]] for _ in range(n)]
        classes = [str(c) for c in self.category_model.classes_]
        violation_columns = [j for j, c in enumerate(classes) if c != NO_CATEGORY]
        if not violation_columns:
            return [[] for _ in range(n)]
        probabilities = self.category_model.predict_proba(matrix)[:, violation_columns]
        probabilities /= np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
        top = min(TOP_CATEGORIES, len(violation_columns))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
        names = [classes[j] for j in violation_columns]
        rounded = np.round(probabilities, 4)
        return [[[names[j], float(rounded[i, j])] for j in order[i]] for i in range(n)]


def train_model(
    texts: Sequence[str],
    numeric: np.ndarray,
    decisions: Sequence[str],
    categories: Sequence[str],
    *,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
) -> TrainedModel:
    """Fit the model on labelled merchants.

    Rows decided ``unsure`` are dropped. Violating means ``restricted`` or ``prohibited``.
    The category model learns ``"none"`` for supportable rows and the given slug for
    violating rows; violating rows without a slug (``""`` or ``"none"``) are left out of it.
    Raises ``TrainingDataError`` when the data cannot train a calibrated model.
    """
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _train(texts, numeric, decisions, categories, sample_weight=sample_weight, seed=seed)


def _train(
    texts: Sequence[str],
    numeric: np.ndarray,
    decisions: Sequence[str],
    categories: Sequence[str],
    *,
    sample_weight: np.ndarray | None,
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

    n_folds = int(min(CV_FOLDS, y.sum(), (1 - y).sum()))
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = list(splitter.split(np.zeros(len(y)), y))
    scores = _out_of_fold_scores(matrix, y, weights, folds, seed)
    choice = choose_calibration(scores, y, weights, folds)

    # the same splitter and seed give the same folds as above (and keep the blob small)
    calibrated = CalibratedClassifierCV(
        _binary_classifier(seed), method=choice.method, cv=splitter, ensemble=False
    )
    calibrated.fit(matrix, y, sample_weight=weights)
    explainer = calibrated.calibrated_classifiers_[0].estimator

    category_model, constant_category = _fit_category_model(
        matrix, category_labels, y, weights, seed
    )
    metrics: dict[str, Any] = {
        "n_train": len(y),
        "n_positive": int(y.sum()),
        "n_dropped_unsure": int(n - len(y)),
        "n_terms": len(vectorizer.vocabulary_),
        "cv_folds": n_folds,
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


def _binary_classifier(seed: int) -> LogisticRegression:
    return LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)


def _out_of_fold_scores(
    matrix: sp.csr_matrix,
    y: np.ndarray,
    weights: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> np.ndarray:
    scores = np.empty(len(y), dtype=np.float64)
    for train, test in folds:
        classifier = _binary_classifier(seed)
        classifier.fit(matrix[train], y[train], sample_weight=weights[train])
        scores[test] = classifier.decision_function(matrix[test])
    return scores


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


def sha256_of(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
