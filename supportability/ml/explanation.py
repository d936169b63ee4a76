"""Per-merchant explanations of a linear model, vectorised over a sparse matrix, and the
words a page shows for them.

A merchant's contribution from feature ``j`` is ``coef[j] * x[j]``. Top terms are the
TF-IDF terms with the largest positive contributions for that merchant; numeric features
are listed with their standardized contributions, largest magnitude first.

Filler: an n-gram made only of stop words and numbers ("of the", "for", "20 this") says
nothing an analyst can check. ``informative_coef`` zeroes such terms' coefficients, so an
explanation built from it lists the next informative terms instead; ``term_is_filler``
lets a page drop them from explanations stored before. Stored names stay the model's own
(``cnp_share``, ``country_ir``); ``feature_label`` and ``term_label`` put them in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

TOP_TERMS = 6

FEATURE_LABELS = {
    "refund_rate": "Refund rate",
    "dispute_rate": "Dispute rate",
    "cnp_share": "Card-not-present share",
    "account_age_days": "Account age",
    "monthly_volume": "Monthly card volume",
}
_NUMBER = re.compile(r"^[\d.,]+$")
_TAG = re.compile(r"^(country|mcc)_([a-z0-9]+)$")


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


# --- words for a page -----------------------------------------------------------------


def feature_label(name: str) -> str:
    """`cnp_share` -> "Card-not-present share"; an unknown name in plain words."""
    return FEATURE_LABELS.get(name) or name.replace("_", " ").strip().capitalize() or name


def term_label(term: str) -> str:
    """A term as an analyst reads it: the model's tags `country_ir` and `mcc_5999` (see
    features.merchant_text) become "country IR" and "MCC 5999"; words stay as they are."""
    tag = _TAG.match(term)
    if tag is None:
        return term
    kind, value = tag.groups()
    return f"country {value.upper()}" if kind == "country" else f"MCC {value}"


def term_is_filler(term: str) -> bool:
    """True when the n-gram carries no word of its own: every token a stop word, a number
    or a single letter ("for", "no", "is our", "20 this"), or a phrase that only adds such a
    token to a word counted by itself ("of retail" says no more than "retail"). A negation
    with a word is evidence: "no prescription", "without licence"."""
    tokens = term.lower().split()
    if all(_is_weak(token) for token in tokens):
        return True
    return len(tokens) > 1 and any(t not in _NEGATIONS and _is_weak(t) for t in tokens)


_NEGATIONS = frozenset({"no", "not", "nor", "without", "never", "none", "cannot", "nobody"})


def _is_weak(token: str) -> bool:
    return token in ENGLISH_STOP_WORDS or len(token) < 2 or bool(_NUMBER.match(token))


def informative_coef(text_coef: np.ndarray, term_names: Sequence[str]) -> np.ndarray:
    """`text_coef` with the filler terms' coefficients set to 0, for `explain` (and any
    batch form of it) to pick the top terms from: the score itself is unchanged."""
    mask = _filler_mask(tuple(term_names))
    return np.where(mask, 0.0, np.asarray(text_coef, dtype=np.float64))


@lru_cache(maxsize=4)
def _filler_mask(term_names: tuple[str, ...]) -> np.ndarray:
    return np.fromiter((term_is_filler(t) for t in term_names), dtype=bool, count=len(term_names))
