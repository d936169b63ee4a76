"""The merchant risk model: what it is, and how it predicts, explains and serialises
(training.py trains and calibrates it).

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
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .explanation import TOP_TERMS, explain
from .features import NUMERIC_FEATURES, numeric_raw_values, tfidf_transform
from .taxonomy import NO_CATEGORY

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
        numeric = check_numeric(numeric, len(texts))
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


def check_numeric(numeric: np.ndarray, n: int) -> np.ndarray:
    numeric = np.asarray(numeric, dtype=np.float64)
    if numeric.ndim != 2 or numeric.shape != (n, len(NUMERIC_FEATURES)):
        raise ValueError(
            f"numeric must have shape ({n}, {len(NUMERIC_FEATURES)}), got {numeric.shape}; "
            "build it with features.numeric_matrix"
        )
    if not np.isfinite(numeric).all():
        raise ValueError("numeric contains NaN or infinite values")
    return numeric


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
