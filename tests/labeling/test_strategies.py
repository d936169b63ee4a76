"""The queue's sampling maths on known inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from labeling import strategies as s


def test_risk_is_probability_times_log_volume():
    got = s.risk(np.array([0.5, 0.5, 0.9]), np.array([0.0, np.e - 1, 99.0]))
    assert got == pytest.approx([0.0, 0.5, 0.9 * np.log(100)])


def test_margin_uncertainty_peaks_at_a_half():
    assert s.margin_uncertainty(np.array([0.0, 0.25, 0.5, 1.0])) == pytest.approx(
        [0.0, 0.5, 1.0, 0.0]
    )


def test_entropy_uncertainty_is_normalised():
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    assert s.entropy_uncertainty(probs) == pytest.approx([1.0, 0.0], abs=1e-9)
    four = np.array([[0.25] * 4, [0.7, 0.1, 0.1, 0.1]])
    got = s.entropy_uncertainty(four)
    assert got[0] == pytest.approx(1.0) and 0 < got[1] < 1


def test_diversify_skips_near_duplicates():
    # Rows 0 and 1 are the same text; row 2 differs and scores a little lower.
    vectors = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    picked = s.diversify(np.array([1.0, 0.99, 0.8]), vectors, k=2, penalty=0.5)
    assert list(picked) == [0, 2]
    assert list(s.diversify(np.array([1.0, 0.99, 0.8]), vectors, k=2, penalty=0.0)) == [0, 1]


def test_poisson_inclusion_spends_exactly_the_capacity_and_caps_at_one():
    w = np.array([100.0, 1.0, 1.0, 1.0, 0.0])
    pi = s.poisson_inclusion(w, expected=2.0)
    assert pi.sum() == pytest.approx(2.0)
    assert pi[0] == 1.0 and pi[4] == 0.0
    assert pi[1:4] == pytest.approx([1 / 3] * 3)


def test_the_mix_keeps_every_merchant_reachable_through_the_audit_stratum():
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 3, size=1_000)
    sample = s.mix_inclusion(
        {"risk": p, "audit": np.ones_like(p)}, {"risk": 0.8, "audit": 0.2}, capacity=100
    )
    assert sample.inclusion.min() > 0
    assert sample.by_strategy["audit"].sum() == pytest.approx(20)
    assert sample.by_strategy["risk"].sum() == pytest.approx(80)
    # Overlap between strategies makes the total a little under the capacity.
    assert 95 < sample.inclusion.sum() <= 100


def test_horvitz_thompson_with_mix_propensities_is_unbiased():
    rng = np.random.default_rng(1)
    n = 5_000
    p = rng.beta(0.4, 4, size=n)
    truth = rng.random(n) < p  # prevalence about 9 %
    sample = s.mix_inclusion(
        {"risk": p, "uncertainty": s.margin_uncertainty(p), "audit": np.ones(n)},
        {"risk": 0.6, "uncertainty": 0.3, "audit": 0.1},
        capacity=500,
    )
    estimates, naive = [], []
    for _ in range(200):
        reviewed = rng.random(n) < sample.inclusion
        w = 1.0 / sample.inclusion[reviewed]
        estimates.append((w * truth[reviewed]).sum() / n)
        naive.append(truth[reviewed].mean())
    assert np.mean(estimates) == pytest.approx(truth.mean(), abs=0.004)
    assert np.mean(naive) > 2 * truth.mean()  # the queue over-samples violators


def test_thompson_moves_capacity_to_the_better_arm():
    rng = np.random.default_rng(2)
    shares = s.thompson_shares(
        {"risk": 40, "uncertainty": 5}, {"risk": 60, "uncertainty": 95}, rng=rng
    )
    assert shares["risk"] > 0.95 and sum(shares.values()) == pytest.approx(1.0)


def test_floors_are_reserved_first():
    shares = s.with_floor({"risk": 1.0, "uncertainty": 0.0}, {"audit": 0.1})
    assert shares == pytest.approx({"risk": 0.9, "uncertainty": 0.0, "audit": 0.1})
    with pytest.raises(ValueError):
        s.with_floor({"risk": 1.0}, {"audit": 0.6, "re_review": 0.5})
