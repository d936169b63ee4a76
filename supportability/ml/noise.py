"""Find labels that are probably wrong (confident learning), to send back for re-review.

``out_of_fold_probabilities`` scores every labelled merchant with a model that did not
train on it, using the same features and classifier as ``model.py``; ``label_issues`` hands
those scores to cleanlab's ``find_label_issues`` (prune by noise rate: per-class
thresholds at the mean self-confidence, the confident joint, and the off-diagonal counts
pruned by margin). cleanlab 2.9.0 installs beside our numpy/scipy/scikit-learn pins and
only adds pandas, tqdm and termcolor, so it is used rather than re-implemented.

Measured on real data, the flags were right 79-94% of the time under uniform noise but
weak on one-sided noise (violators labelled supportable): re-review flagged items, never
flip their labels automatically.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .model import BLAS_THREADS, check_numeric
from .training import binary_classifier


def out_of_fold_probabilities(
    texts: Sequence[str],
    numeric: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """``(n, 2)`` P(supportable), P(violating) per row, each from a model that did not see it.

    Per fold, the TF-IDF vectorizer, the scaler and the class-balanced logistic regression
    of ``model.py`` are fitted on the other folds only. With ``groups`` (e.g. a duplicate
    cluster or a merchant's id), rows of one group are always held out together
    (``StratifiedGroupKFold``: grouped like ``GroupKFold``, with classes kept balanced);
    without, ``StratifiedKFold``. The probabilities are the balanced classifier's, not
    calibrated to prevalence: fine for ranking and confident learning, not P(violating).
    Raises ``ValueError`` when a fold cannot be trained (too few rows of a class or groups).
    """
    n = len(texts)
    y = np.asarray(y).astype(np.int64)
    numeric = check_numeric(numeric, n)
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"y must be {n} values of 0 or 1")
    minority = int(min(y.sum(), n - y.sum()))
    n_splits = min(folds, minority)
    if n_splits < 2:
        raise ValueError(f"need at least 2 rows of each class for 2 folds, got {minority}")
    splits = _splits(y, groups, n_splits, seed)
    probabilities = np.empty((n, 2), dtype=np.float64)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        for train, test in splits:
            if len(np.unique(y[train])) < 2:
                raise ValueError("a training fold has one class only: use fewer folds")
            probabilities[test] = _fit_predict(texts, numeric, y, train, test, seed)
    return probabilities


def label_issues(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Boolean mask ``(n,)`` of rows whose given label is likely wrong.

    ``labels`` are class indices (0/1 for violating) and ``pred_probs`` out-of-fold class
    probabilities, one column per class, e.g. from ``out_of_fold_probabilities``.
    """
    labels = np.asarray(labels).astype(np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or labels.shape != (pred_probs.shape[0],):
        raise ValueError(
            f"labels {labels.shape} and pred_probs {pred_probs.shape} must be (n,) and (n, K)"
        )
    if len(labels) == 0:
        return np.zeros(0, dtype=bool)
    # imported here: cleanlab pulls in pandas (~1 s), which web and worker start-up skip
    from cleanlab.filter import find_label_issues

    return np.asarray(find_label_issues(labels, pred_probs), dtype=bool)


def _splits(
    y: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    dummy = np.zeros(len(y))
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(splitter.split(dummy, y))
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have shape {y.shape}, got {groups.shape}")
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(f"only {n_groups} groups: need at least {n_splits} for the folds")
    grouped = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(grouped.split(dummy, y, groups))


def _fit_predict(
    texts: Sequence[str],
    numeric: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
) -> np.ndarray:
    # the vectorizer and scaler settings of model._train
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=20_000, dtype=np.float64
    )
    text_train = vectorizer.fit_transform([texts[i] for i in train])
    scaler = StandardScaler().fit(numeric[train])

    def features(rows: np.ndarray, text_matrix: sp.csr_matrix) -> sp.csr_matrix:
        return sp.hstack([text_matrix, sp.csr_matrix(scaler.transform(numeric[rows]))], "csr")

    classifier = binary_classifier(seed)
    classifier.fit(features(train, text_train), y[train])
    text_test = vectorizer.transform([texts[i] for i in test])
    return np.asarray(classifier.predict_proba(features(test, text_test)), dtype=np.float64)
