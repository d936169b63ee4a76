"""Inter-rater agreement on nominal labels: Cohen's kappa, Krippendorff's alpha, Gwet's AC1.

Pure numpy, no Django. Labels are any hashable values (``"prohibited/gambling"``,
``"supportable/none"``, booleans from :func:`one_vs_rest`); only equality matters.

Every two-rater statistic is derived from one q x q contingency table ``C`` where
``C[i, j]`` counts items rater A put in category i and rater B in category j. With
n items, row sums ``r`` and column sums ``c``:

* observed agreement  p_o = trace(C) / n
* Cohen's kappa       p_e = sum_k r_k c_k / n^2  (each rater keeps their own marginals)
* Gwet's AC1          p_e = 1/(q-1) sum_k pi_k (1 - pi_k), pi_k = (r_k + c_k) / 2n
* Krippendorff alpha  coincidence matrix C + C^T (each item is a unit of two values)

and each chance-corrected coefficient is (p_o - p_e) / (1 - p_e). The statistics are
None where undefined rather than NaN, so callers must handle "not enough data" explicitly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Agreement",
    "cohen_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "one_vs_rest",
    "pair_agreement",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Agreement:
    """Agreement between two raters over the same ``n`` items; None where undefined."""

    n: int
    observed: float | None
    kappa: float | None
    alpha: float | None
    ac1: float | None


def one_vs_rest(values: Sequence[Hashable], category: Hashable) -> list[bool]:
    """Recode labels as the binary variable "label == category".

    Per-category agreement ("do the raters agree on whether this is gambling?") is plain
    agreement on this recoding; pass the results of both raters to :func:`pair_agreement`.
    """
    return [value == category for value in values]


def _category_index(
    values: Sequence[Hashable], categories: Sequence[Hashable] | None
) -> dict[Hashable, int]:
    """Map each category to a column; the categories seen, in first-seen order, by default."""
    if categories is None:
        categories = list(dict.fromkeys(values))
    index = {category: i for i, category in enumerate(dict.fromkeys(categories))}
    unknown = sorted({repr(value) for value in values if value not in index})
    if unknown:
        raise ValueError(f"values not among the given categories: {unknown}")
    return index


def contingency_table(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    categories: Sequence[Hashable] | None = None,
) -> IntArray:
    """The q x q table of counts ``C[i, j]`` = items rated category i by ``a``, j by ``b``.

    q is the number of categories seen by either rater, or ``len(categories)`` when given
    (unused categories are zero rows and columns). Raises ValueError when the raters rated
    different numbers of items, when a label is missing (None: two-rater statistics need
    complete pairs; use :func:`krippendorff_alpha` for missing data), or when a label is
    outside ``categories``.
    """
    if len(a) != len(b):
        raise ValueError(f"raters rated different numbers of items: {len(a)} != {len(b)}")
    if any(value is None for value in (*a, *b)):
        raise ValueError("missing label (None) in a two-rater comparison")
    index = _category_index([*a, *b], categories)
    q = len(index)
    cells = [index[x] * q + index[y] for x, y in zip(a, b, strict=True)]
    return np.bincount(np.asarray(cells, dtype=np.int64), minlength=q * q).reshape(q, q)


def _kappa(table: IntArray) -> float | None:
    # (p_o - p_e) / (1 - p_e) multiplied through by n^2 keeps the test for p_e == 1 exact.
    n = int(table.sum())
    chance = int(table.sum(axis=1) @ table.sum(axis=0))
    if n == 0 or chance == n * n:
        return None
    return (n * int(np.trace(table)) - chance) / (n * n - chance)


def _ac1(table: IntArray) -> float | None:
    n = int(table.sum())
    if n == 0:
        return None
    q = table.shape[0]
    if q == 1:
        # Everyone used the one category there is: perfect agreement. irrCAC (0.4.4) gets
        # the same 1.0 by setting p_e = 1 - 1e-15 for q == 1.
        return 1.0
    pi = (table.sum(axis=1) + table.sum(axis=0)) / (2 * n)
    p_e = float(pi @ (1 - pi)) / (q - 1)  # at most 1/q, so never 1
    p_o = np.trace(table) / n
    return float((p_o - p_e) / (1 - p_e))


def _alpha(coincidences: FloatArray, value_counts: IntArray) -> float | None:
    # alpha = 1 - D_o / D_e with, over N pairable values and n_c of value c,
    #   D_o = (N - sum_c o_cc) / N          (share of pairs that disagree)
    #   D_e = (N^2 - sum_c n_c^2) / (N(N-1)) (same, if values were paired at random)
    total = int(value_counts.sum())
    expected = total * total - int(value_counts @ value_counts)
    if total < 2 or expected == 0:
        return None
    observed = total - float(np.trace(coincidences))
    return 1 - (total - 1) * observed / expected


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa for two raters labelling the same items in the same order.

    kappa = (p_o - p_e) / (1 - p_e): observed agreement p_o corrected by the agreement
    p_e = sum_k p_a(k) p_b(k) expected if each rater labelled independently at their own
    rates. None when there are no items or p_e == 1 (both raters always give the same,
    single category), where kappa is 0/0.
    """
    return _kappa(contingency_table(a, b))


def gwet_ac1(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    categories: Sequence[Hashable] | None = None,
) -> float | None:
    """Gwet's AC1 for two raters (Gwet 2008).

    AC1 = (p_o - p_e) / (1 - p_e) with p_e = 1/(q-1) sum_k pi_k (1 - pi_k), where pi_k is
    the mean of the two raters' proportions for category k and q the number of categories
    (seen by either rater, or ``len(categories)``). Unlike kappa's p_e, which approaches 1
    when nearly every item falls in one category, this p_e is at most 1/q, so AC1 stays
    near p_o under extreme prevalence.

    None when there are no items; 1.0 when q == 1 (every rating is the one category, so
    agreement is perfect), as irrCAC returns.
    """
    return _ac1(contingency_table(a, b, categories=categories))


def krippendorff_alpha(units: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha for nominal data, with any number of coders and missing values.

    ``units`` holds one sequence per unit (item) with each coder's value, None where a
    coder gave none. Within a unit of m_u values every ordered pair of values from
    different coders adds 1/(m_u - 1) to the coincidence matrix o, so each pairable value
    carries weight 1; units with fewer than two values are not pairable and are ignored.
    Then alpha = 1 - D_o / D_e, the observed over the chance-expected share of
    mismatching pairs (see ``_alpha``).

    None when there are fewer than two pairable values or only one value occurs among
    them (D_e == 0).
    """
    values = [value for unit in units for value in unit if value is not None]
    index = _category_index(values, None)
    counts = np.zeros((len(units), len(index)), dtype=np.int64)
    for row, unit in enumerate(units):
        for value in unit:
            if value is not None:
                counts[row, index[value]] += 1
    pairable = counts[counts.sum(axis=1) >= 2]
    weights = 1.0 / (pairable.sum(axis=1) - 1)
    # o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)
    coincidences = (pairable.T * weights) @ pairable - np.diag(weights @ pairable)
    return _alpha(coincidences, pairable.sum(axis=0))


def pair_agreement(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    categories: Sequence[Hashable] | None = None,
) -> Agreement:
    """Observed agreement, kappa, alpha and AC1 for two raters over the same items.

    All four come from one contingency table. Alpha treats the data as a two-coder
    reliability matrix with no missing values: each item contributes the pair (a, b) and
    (b, a), so its coincidence matrix is C + C^T. ``categories`` only affects AC1 (q).
    """
    table = contingency_table(a, b, categories=categories)
    n = int(table.sum())
    return Agreement(
        n=n,
        observed=float(np.trace(table)) / n if n else None,
        kappa=_kappa(table),
        alpha=_alpha((table + table.T).astype(np.float64), table.sum(axis=0) + table.sum(axis=1)),
        ac1=_ac1(table),
    )
