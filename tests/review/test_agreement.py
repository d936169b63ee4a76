"""review.agreement checked against scikit-learn, the krippendorff package and published examples.

Gwet's AC1 has no reference implementation here: irrCAC 0.4.4 (its only Python package)
pins scipy==1.12.0, which cannot coexist with the project's scipy/numpy pins. AC1 is checked
against Gwet's published example, exact fractions worked by hand, values irrCAC 0.4.4 printed
when run once by hand (``CAC(df, categories=..., digits=15).gwet()``), and an independent
brute-force computation from the raw ratings.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from review.agreement import (
    Agreement,
    cohen_kappa,
    contingency_table,
    gwet_ac1,
    krippendorff_alpha,
    one_vs_rest,
    pair_agreement,
)

LABELS = [
    "supportable/none",
    "prohibited/gambling",
    "prohibited/crypto",
    "restricted/alcohol",
    "restricted/pharmacy",
]


def _rater_pair(seed: int, n: int, prevalence: list[float], accuracy: float):
    """Rater b copies a with probability ``accuracy``, else draws from ``prevalence``."""
    rng = np.random.default_rng(seed)
    labels = LABELS[: len(prevalence)]
    a = [str(x) for x in rng.choice(labels, size=n, p=prevalence)]
    redraw = [str(x) for x in rng.choice(labels, size=n, p=prevalence)]
    keep = rng.random(n) < accuracy
    b = [x if kept else y for x, y, kept in zip(a, redraw, keep, strict=True)]
    return a, b


RANDOM_PAIRS = [
    _rater_pair(0, 50, [0.2, 0.2, 0.2, 0.2, 0.2], 0.5),
    _rater_pair(1, 300, [0.4, 0.3, 0.2, 0.1], 0.8),
    _rater_pair(2, 17, [0.5, 0.5], 0.3),
    _rater_pair(3, 1000, [0.97, 0.01, 0.01, 0.01], 0.9),  # nearly everything one class
    _rater_pair(4, 500, [0.95, 0.05], 0.8),
    _rater_pair(5, 40, [0.6, 0.25, 0.1, 0.05], 0.0),  # independent raters
]

HAND_PAIRS = [
    (["a", "a", "b", "b"], ["a", "b", "a", "b"]),  # kappa 0
    (["a", "b", "c"], ["a", "b", "c"]),  # perfect
    (["a", "b"], ["b", "a"]),  # perfect disagreement
    (["s"] * 9 + ["p"], ["s"] * 10),
    (["x", "x", "y", "x"], ["x", "y", "y", "x"]),
]

PAIRS = RANDOM_PAIRS + HAND_PAIRS


def _codes(*raters):
    """Integer codes for the krippendorff package (it wants numbers, np.nan for missing)."""
    index = {label: i for i, label in enumerate(sorted({x for r in raters for x in r if x}))}
    return [[np.nan if x is None else index[x] for x in rater] for rater in raters]


def _brute_force_ac1(a, b, q):
    """Gwet's AC1 straight from the definition, without a contingency table."""
    n = len(a)
    p_a = sum(x == y for x, y in zip(a, b, strict=True)) / n
    p_e = 0.0
    for k in set(a) | set(b):
        pi_k = (a.count(k) / n + b.count(k) / n) / 2
        p_e += pi_k * (1 - pi_k)
    p_e /= q - 1
    return (p_a - p_e) / (1 - p_e)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_cohen_kappa_matches_sklearn(a, b):
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_pair_alpha_matches_krippendorff_package(a, b):
    expected = krippendorff.alpha(reliability_data=_codes(a, b), level_of_measurement="nominal")

    assert pair_agreement(a, b).alpha == pytest.approx(expected, abs=1e-9)
    assert krippendorff_alpha(list(zip(a, b, strict=True))) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_ac1_matches_brute_force(a, b):
    seen = sorted(set(a) | set(b))
    declared = [*seen, "unused/one", "unused/two"]

    assert gwet_ac1(a, b) == pytest.approx(_brute_force_ac1(a, b, len(seen)), abs=1e-9)
    assert gwet_ac1(a, b, categories=declared) == pytest.approx(
        _brute_force_ac1(a, b, len(declared)), abs=1e-9
    )


@pytest.mark.parametrize(
    ("a", "b", "categories", "expected"),
    [
        # p_o = 3/4, pi = (5/8, 3/8, 0), p_e = (15/64 + 15/64) / 2  ->  AC1 = 33/49.
        (["x", "x", "y", "x"], ["x", "y", "y", "x"], ["x", "y", "z"], 33 / 49),
        # q = 2: p_e = 2 * (5/8)(3/8) = 15/32  ->  AC1 = (3/4 - 15/32) / (17/32) = 9/17.
        (["x", "x", "y", "x"], ["x", "y", "y", "x"], None, 9 / 17),
        # Values printed by irrCAC 0.4.4 with digits=15.
        (["a", "a", "b", "b"], ["a", "b", "a", "b"], None, 0.0),
        (["s"] * 9 + ["p"], ["s"] * 10, None, 0.889502762430939),
    ],
)
def test_ac1_matches_worked_values(a, b, categories, expected):
    assert gwet_ac1(a, b, categories=categories) == pytest.approx(expected, abs=1e-9)


def test_gwet_handbook_abstractors_example():
    # Gwet, "Handbook of Inter-Rater Reliability", 4th ed. (2014): 100 pregnant women
    # classified by two abstractors as Ectopic / AIU / NIU. AC1 = 0.84933 as printed in
    # the irrCAC 0.4.4 docs (irrCAC.table, table_cont3x3abstractors); irrCAC's kappa for the
    # table is 0.796409402183972 = 4303/5403.
    table = {
        ("Ectopic", "Ectopic"): 13,
        ("AIU", "AIU"): 20,
        ("NIU", "AIU"): 7,
        ("AIU", "NIU"): 4,
        ("NIU", "NIU"): 56,
    }
    a = [x for (x, _), count in table.items() for _ in range(count)]
    b = [y for (_, y), count in table.items() for _ in range(count)]

    result = pair_agreement(a, b)

    assert result.n == 100
    assert result.observed == pytest.approx(0.89, abs=1e-9)
    assert result.ac1 == pytest.approx(0.849330548231346, abs=1e-9)
    assert round(result.ac1, 5) == 0.84933
    assert result.kappa == pytest.approx(4303 / 5403, abs=1e-9)
    assert result.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_krippendorff_2011_worked_example():
    # Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section C: four
    # observers, twelve units, missing values; nominal alpha = 0.743. Unit 12 has a single
    # value and is not pairable. Rows are observers A-D, columns units 1-12.
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [list(unit) for unit in zip(*observers, strict=True)]
    reference = krippendorff.alpha(
        reliability_data=[[np.nan if x is None else x for x in o] for o in observers],
        level_of_measurement="nominal",
    )

    alpha = krippendorff_alpha(units)

    assert alpha == pytest.approx(reference, abs=1e-9)
    assert round(alpha, 3) == 0.743
    assert krippendorff_alpha(units[:11]) == pytest.approx(alpha, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_alpha_with_missing_values_and_many_coders_matches_package(seed):
    rng = np.random.default_rng(seed)
    coders, n_units = int(rng.integers(3, 7)), int(rng.integers(5, 120))
    truth = rng.choice(LABELS[:3], size=n_units, p=[0.7, 0.2, 0.1])
    ratings = [
        [
            None if rng.random() < 0.3 else str(t if rng.random() < 0.75 else rng.choice(LABELS))
            for t in truth
        ]
        for _ in range(coders)
    ]
    units = [list(unit) for unit in zip(*ratings, strict=True)]
    reference = krippendorff.alpha(
        reliability_data=_codes(*ratings), level_of_measurement="nominal"
    )

    assert krippendorff_alpha(units) == pytest.approx(reference, abs=1e-9)


def test_alpha_accepts_units_of_different_sizes():
    # Units as lists of whatever values came in, not a rectangular matrix.
    ragged = [["a", "a"], ["a", "b", "b"], ["b"], ["a", "b", None, "b"]]
    padded = [unit + [None] * (4 - len(unit)) for unit in ragged]
    reference = krippendorff.alpha(
        reliability_data=_codes(*zip(*padded, strict=True)), level_of_measurement="nominal"
    )

    assert krippendorff_alpha(ragged) == pytest.approx(reference, abs=1e-9)


def test_prevalence_paradox_kappa_low_ac1_high():
    # 200 merchants, 97% "supportable" by both raters' marginals, raters agree on 96%.
    a = ["supportable/none"] * 190 + ["prohibited/gambling"] * 2
    b = list(a)
    a += ["prohibited/gambling"] * 4 + ["supportable/none"] * 4
    b += ["supportable/none"] * 4 + ["prohibited/gambling"] * 4

    result = pair_agreement(a, b)

    assert result.observed == pytest.approx(0.96, abs=1e-9)
    assert result.kappa < 0.5
    assert result.ac1 > 0.9
    assert result.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
    assert result.ac1 == pytest.approx(_brute_force_ac1(a, b, 2), abs=1e-9)


def test_per_category_agreement_is_agreement_on_one_vs_rest():
    a, b = RANDOM_PAIRS[1]
    category = "prohibited/gambling"

    binary_a, binary_b = one_vs_rest(a, category), one_vs_rest(b, category)
    result = pair_agreement(binary_a, binary_b)

    assert binary_a == [x == category for x in a]
    assert result.kappa == pytest.approx(cohen_kappa_score(binary_a, binary_b), abs=1e-9)
    assert result.ac1 == pytest.approx(_brute_force_ac1(binary_a, binary_b, 2), abs=1e-9)


def test_contingency_table_counts_pairs_in_category_order():
    table = contingency_table(["a", "a", "b"], ["a", "b", "b"], categories=["b", "a", "c"])

    assert table.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]


def test_empty_input_is_undefined():
    assert cohen_kappa([], []) is None
    assert gwet_ac1([], []) is None
    assert krippendorff_alpha([]) is None
    assert pair_agreement([], []) == Agreement(n=0, observed=None, kappa=None, alpha=None, ac1=None)


def test_single_category_for_everything():
    # kappa: p_e = 1, so 0/0. alpha: one value, no expected disagreement (the package
    # refuses it). AC1: q == 1 is perfect agreement, as irrCAC 0.4.4 returns 1.0.
    a = b = ["supportable/none"] * 20

    assert pair_agreement(a, b) == Agreement(n=20, observed=1.0, kappa=None, alpha=None, ac1=1.0)
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff.alpha(reliability_data=_codes(a, b), level_of_measurement="nominal")


def test_single_category_with_more_categories_declared_is_ac1_one():
    a = b = ["supportable/none"] * 20

    assert gwet_ac1(a, b, categories=LABELS) == 1.0


def test_alpha_without_pairable_values_is_undefined():
    assert krippendorff_alpha([["a", None], [None, "b"], ["c"]]) is None
    assert krippendorff_alpha([[None, None]]) is None


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="different numbers of items"):
        cohen_kappa(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="different numbers of items"):
        gwet_ac1(["a"], [])
    with pytest.raises(ValueError, match="different numbers of items"):
        pair_agreement(["a"], ["a", "b"])


def test_missing_label_in_two_rater_comparison_raises():
    with pytest.raises(ValueError, match="missing label"):
        pair_agreement(["a", None], ["a", "b"])


def test_label_outside_declared_categories_raises():
    with pytest.raises(ValueError, match="not among the given categories"):
        gwet_ac1(["a", "z"], ["a", "a"], categories=["a", "b"])
