"""Per-merchant explanations of a linear model, vectorised over a sparse matrix.

A merchant's contribution from feature ``j`` is ``coef[j] * x[j]``. Top terms are the
TF-IDF terms with the largest positive contributions for that merchant; numeric features
are listed with their standardized contributions, largest magnitude first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

TOP_TERMS = 6


def explain(
    text_matrix: sp.csr_matrix,
    text_coef: np.ndarray,
    term_names: Sequence[str],
    numeric_standardized: np.ndarray,
    numeric_raw: np.ndarray,
    numeric_coef: np.ndarray,
    feature_names: Sequence[str],
    *,
    top_terms: int = TOP_TERMS,
) -> list[dict[str, Any]]:
    """One JSON-serialisable explanation per row:
    ``{"terms": [[term, weight], ...], "features": [[name, raw_value, weight], ...]}``."""
    n = text_matrix.shape[0]
    terms = _top_terms(text_matrix, text_coef, term_names, n, top_terms)
    contributions = numeric_standardized * numeric_coef[np.newaxis, :]
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")
    rounded = np.round(contributions, 4)
    explanations = []
    for i in range(n):
        features = [
            [feature_names[j], _display(feature_names[j], numeric_raw[i, j]), float(rounded[i, j])]
            for j in order[i]
        ]
        explanations.append({"terms": terms[i], "features": features})
    return explanations


def _top_terms(
    text_matrix: sp.csr_matrix,
    text_coef: np.ndarray,
    term_names: Sequence[str],
    n: int,
    top: int,
) -> list[list[list[Any]]]:
    matrix = sp.csr_matrix(text_matrix)
    rows = np.repeat(np.arange(n), np.diff(matrix.indptr))
    contributions = matrix.data * text_coef[matrix.indices]
    positive = contributions > 0
    rows, columns, contributions = rows[positive], matrix.indices[positive], contributions[positive]
    # sort by row, then by contribution descending; keep the first `top` of each row
    order = np.lexsort((-contributions, rows))
    rows, columns, contributions = rows[order], columns[order], contributions[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    keep = rank < top
    rows, columns, contributions = rows[keep], columns[keep], np.round(contributions[keep], 4)
    bounds = np.searchsorted(rows, np.arange(n + 1), side="left")
    result: list[list[list[Any]]] = []
    for i in range(n):
        start, stop = bounds[i], bounds[i + 1]
        result.append(
            [
                [term_names[c], float(w)]
                for c, w in zip(columns[start:stop], contributions[start:stop], strict=True)
            ]
        )
    return result


def _display(name: str, value: float) -> float | int:
    if name == "account_age_days":
        return round(float(value))
    if name == "monthly_volume":
        return round(float(value), 2)
    return round(float(value), 6)
