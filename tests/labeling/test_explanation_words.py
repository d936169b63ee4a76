"""The explanation in words: filler terms, feature and tag names, and the MCC's name."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from supportability.mcc import mcc_name
from supportability.ml.explanation import (
    explain,
    feature_label,
    informative_coef,
    term_is_filler,
    term_label,
)


def test_stop_word_and_number_ngrams_are_filler():
    for term in ("for", "no", "of the", "is our", "20 this", "of retail", "save 20"):
        assert term_is_filler(term), term
    for term in ("peptides", "free shipping", "no prescription", "20mg", "country_ir"):
        assert not term_is_filler(term), term


def test_feature_and_tag_names_are_put_in_words():
    assert feature_label("cnp_share") == "Card-not-present share"
    assert feature_label("new_signal") == "New signal"
    assert term_label("country_ir") == "country IR" and term_label("mcc_5967") == "MCC 5967"


def test_informative_coef_makes_explain_pick_the_next_real_terms():
    names = ["for", "peptides", "of retail", "needles"]
    matrix = sp.csr_matrix(np.ones((1, 4)))
    coef = np.array([3.0, 1.0, 2.0, 0.5])
    numeric = np.zeros((1, 1))
    args = (numeric, numeric, np.zeros(1), ["a"])
    plain = explain(matrix, coef, names, *args)[0]["terms"]
    better = explain(matrix, informative_coef(coef, names), names, *args)[0]["terms"]
    assert [t for t, _ in plain][:2] == ["for", "of retail"]
    assert [t for t, _ in better] == ["peptides", "needles"]


def test_an_mcc_is_named_from_iso_18245():
    assert mcc_name("5912").name == "Drug stores and pharmacies"
    assert mcc_name("5977").name  # not in the ISO list: a card network's name
    unknown = mcc_name("12x4")
    assert unknown.name == "" and unknown.why_unknown == "not a four-digit code"
