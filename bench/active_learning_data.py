"""The datasets of bench/active_learning.py: the synthetic merchant world and two sets that
ship with scikit-learn, each as features, 0/1 labels (1 = violating), optional exposure
(monthly volume) and optional near-duplicate groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import StandardScaler

from supportability.ml.folds import near_duplicate_key
from supportability.ml.synthetic import generate_merchants, model_inputs

DATASETS = ("synthetic", "breast_cancer", "digits")
DIGIT = 8  # digits: this digit is "violating", the other nine are not (about 10 %)


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray | sp.csr_matrix  # features, already scaled for a logistic regression
    y: np.ndarray  # 0/1, 1 = violating
    volume: np.ndarray | None = None  # exposure for the risk strategy (monthly volume)
    groups: np.ndarray | None = None  # near-duplicate group per row, for diversity
    batch: int = 20  # reviews per round
    budget: int = 1_000  # labels per run
    coverage_budget: int = 400  # labels per coverage replication


def synthetic_world(n: int = 20_000, *, seed: int = 0) -> Dataset:
    """`n` merchants of the synthetic world (about 5 % violating): TF-IDF of their text (word
    uni- and bigrams, fitted once on all texts: unsupervised) next to the standardised
    numeric features, as the production model reads them; monthly volume as exposure;
    `near_duplicate_key(url, name)` as groups."""
    merchants = generate_merchants(n, seed=seed)
    inputs = model_inputs(merchants)
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=20_000, dtype=np.float64
    )
    text = vectorizer.fit_transform(inputs.texts)
    numeric = StandardScaler().fit_transform(inputs.numeric)
    X = sp.hstack([text, sp.csr_matrix(numeric)], format="csr")
    keys = [near_duplicate_key(m.url, m.name) or f"row:{i}" for i, m in enumerate(merchants)]
    _, groups = np.unique(np.array(keys), return_inverse=True)
    return Dataset(
        name="synthetic",
        X=X,
        y=inputs.violating,
        volume=np.array([m.monthly_volume for m in merchants]),
        groups=groups,
        batch=20,
        budget=2_000,
        coverage_budget=400,
    )


def breast_cancer() -> Dataset:
    """scikit-learn's breast cancer set (569 rows): malignant = violating (37 %); no
    exposure, so risk = p; no groups."""
    data = load_breast_cancer()
    y = (data.target == 0).astype(np.int64)  # target 0 is malignant
    return Dataset(
        name="breast_cancer",
        X=StandardScaler().fit_transform(data.data),
        y=y,
        batch=5,
        budget=200,
        coverage_budget=200,
    )


def digits() -> Dataset:
    """scikit-learn's 8x8 digits (1,797 rows) made binary: the digit `DIGIT` against the
    rest (10 % violating)."""
    data = load_digits()
    return Dataset(
        name="digits",
        X=StandardScaler().fit_transform(data.data),
        y=(data.target == DIGIT).astype(np.int64),
        batch=10,
        budget=600,
        coverage_budget=400,
    )


def load(name: str, *, synthetic_size: int = 20_000) -> Dataset:
    if name == "synthetic":
        return synthetic_world(synthetic_size)
    if name == "breast_cancer":
        return breast_cancer()
    if name == "digits":
        return digits()
    raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")
