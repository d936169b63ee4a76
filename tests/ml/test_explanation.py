from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from supportability.ml.explanation import explain


def test_top_terms_match_a_row_by_row_computation() -> None:
    rng = np.random.default_rng(0)
    matrix = sp.random(40, 30, density=0.3, format="csr", random_state=1)
    coef = rng.normal(size=30)
    names = [f"t{j}" for j in range(30)]
    numeric = rng.normal(size=(40, 2))
    explanations = explain(matrix, coef, names, numeric, numeric, np.array([1.0, -2.0]), ["a", "b"])
    for i, explanation in enumerate(explanations):
        row = matrix[i].toarray().ravel() * coef
        expected = [j for j in np.argsort(-row) if row[j] > 0][:6]
        assert [term for term, _ in explanation["terms"]] == [names[j] for j in expected]
        assert all(weight > 0 for _, weight in explanation["terms"])


def test_features_are_sorted_by_absolute_contribution() -> None:
    numeric = np.array([[1.0, 1.0]])
    explanation = explain(
        sp.csr_matrix((1, 3)),
        np.zeros(3),
        ["x", "y", "z"],
        numeric,
        numeric,
        np.array([0.5, -2.0]),
        ["a", "b"],
    )[0]
    assert explanation["terms"] == []
    assert explanation["features"] == [["b", 1.0, -2.0], ["a", 1.0, 0.5]]
