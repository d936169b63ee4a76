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


# --- The live queue's rounds -----------------------------------------------------------------


def _population(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).beta(0.4, 4, size=n)


def test_strategy_weights_on_known_inputs():
    p = np.array([0.0, 0.25, 0.5, 0.9])
    volume = np.array([100.0, 0.0, np.e - 1, 99.0])
    w = s.strategy_weights(p, volume, groups=np.array([7, 7, 3, 5]))
    assert tuple(w) == s.STRATEGIES
    sharp_risk, sharp_margin = s.RISK_SHARPNESS, s.UNCERTAINTY_SHARPNESS
    # Risk: sharpened probability times log exposure; no exposure, no risk weight.
    assert w["risk"] == pytest.approx([0.0, 0.0, 0.5**sharp_risk, 0.9**sharp_risk * np.log(100)])
    floor = s.UNCERTAINTY_FLOOR
    margins = np.array([0.0, 0.5, 1.0, 0.2]) ** sharp_margin
    assert w["uncertainty"] == pytest.approx(np.maximum(margins, floor))
    assert w["uncertainty"][0] == floor and w["uncertainty"][2] == 1.0
    # Rows 0 and 1 share a near-duplicate group: each weighs half its uncertainty.
    assert w["diversity"] == pytest.approx(w["uncertainty"] / np.array([2, 2, 1, 1]))
    assert w["audit"] == pytest.approx([1.0] * 4)


def test_strategy_weights_without_volume_or_groups():
    p = np.array([0.1, 0.6, 0.95])
    w = s.strategy_weights(p)
    assert w["risk"] == pytest.approx(p**s.RISK_SHARPNESS)
    assert np.all(np.diff(w["risk"]) > 0)  # the ranking of p is kept
    assert w["diversity"] == pytest.approx(w["uncertainty"])
    assert all((v > 0).all() for v in w.values())


def test_sharpened_weights_concentrate_the_draw_on_the_top_of_the_ranking():
    rng = np.random.default_rng(12)
    p = rng.beta(0.3, 5, size=20_000)
    top = p >= np.quantile(p, 0.99)
    pi = s.poisson_inclusion(s.strategy_weights(p)["risk"], expected=50)
    plain = s.poisson_inclusion(p, expected=50)
    # Most of the risk stratum's capacity goes to the top 1 %, far more than in proportion.
    assert pi[top].sum() > 0.5 * 50 > plain[top].sum()


def test_poisson_inclusion_spends_the_capacity_on_rows_not_yet_labelled():
    w = np.array([4.0, 1.0, 1.0, 1.0, 1.0])
    free = np.array([True, False, False, False, False])
    pi = s.poisson_inclusion(w, expected=2.0, free=free)
    # The free row's weight does not eat the capacity: c = 2 / 4 over the other rows.
    assert pi == pytest.approx([1.0, 0.5, 0.5, 0.5, 0.5])
    assert s.poisson_inclusion(w, expected=2.0) == pytest.approx([1.0, 0.25, 0.25, 0.25, 0.25])
    heavy = np.random.default_rng(0).pareto(1.0, size=2_000)
    free = np.arange(2_000) % 3 == 0
    pi = s.poisson_inclusion(heavy, expected=150.0, free=free)
    assert pi[~free].sum() == pytest.approx(150.0) and (pi == 1.0).sum() > 10
    assert pi == pytest.approx(np.minimum(1.0, s.poisson_scale(heavy, 150.0, free=free) * heavy))


def test_round_draw_spends_each_share_of_the_capacity_on_unlabelled_rows():
    rng = np.random.default_rng(3)
    p = _population(3_000, 3)
    free = rng.random(p.size) < 0.3
    # Labelled rows are the riskiest ones here, as after a few rounds of the real queue.
    free |= p > np.quantile(p, 0.9)
    weights = s.strategy_weights(p)
    shares = {"risk": 0.5, "uncertainty": 0.3, "audit": 0.2}
    per_stratum = {name: [] for name in shares}
    reviews, drawn_free = [], []
    for _ in range(300):
        draw = s.round_draw(weights, shares, 60, rng=rng, free=free)
        new = ~free[draw.index]
        reviews.append(new.sum())
        drawn_free.append((~new).sum())
        for name, fired in draw.fired.items():
            per_stratum[name].append((fired & new).sum())
    for name, share in shares.items():
        assert np.mean(per_stratum[name]) == pytest.approx(60 * share, rel=0.06)
    # A row chosen by two strata is reviewed once, so the reviews fall a little short.
    assert 0.9 * 60 < np.mean(reviews) <= 60
    assert np.mean(drawn_free) > 10  # labelled rows are drawn as well, at no cost


def test_round_draw_inclusion_is_the_frequency_each_row_is_drawn():
    rng = np.random.default_rng(4)
    p = _population(40, 4)
    free = np.arange(40) % 5 == 0
    weights = s.strategy_weights(p, groups=np.arange(40) // 4)
    shares = {"risk": 0.4, "uncertainty": 0.2, "diversity": 0.2, "audit": 0.2}
    counts = np.zeros(40)
    inclusion = np.full(40, np.nan)
    rounds = 4_000
    for _ in range(rounds):
        draw = s.round_draw(weights, shares, 6, rng=rng, free=free)
        counts[draw.index] += 1
        inclusion[draw.index] = draw.inclusion
    assert not np.isnan(inclusion).any()  # every row was drawn at some point
    se = np.sqrt(inclusion * (1 - inclusion) / rounds)
    assert np.abs(counts / rounds - inclusion).max() < 4 * se.max() + 1e-9


def test_round_draw_reaches_every_row_while_audit_has_a_share():
    rng = np.random.default_rng(5)
    p = np.r_[np.zeros(10), _population(90, 5)]
    weights = s.strategy_weights(p, monthly_volume=np.r_[np.zeros(10), np.full(90, 1e4)])
    assert (weights["risk"][:10] == 0).all()
    seen = np.zeros(100, bool)
    for _ in range(1_000):
        draw = s.round_draw(weights, s.DEFAULT_SHARES, 10, rng=rng)
        assert (draw.inclusion > 0).all() and (draw.inclusion <= 1).all()
        seen[draw.index] = True
    assert seen.all()
    # Without the audit and uncertainty strata, rows of zero risk are never reviewed.
    only_risk = s.round_draw(weights, {"risk": 1.0}, 50, rng=rng)
    assert not np.isin(np.arange(10), only_risk.index).any()


def test_round_draw_fired_says_which_strata_chose_each_row():
    rng = np.random.default_rng(6)
    p = _population(500, 6)
    weights = s.strategy_weights(p)
    shares = {"risk": 0.6, "uncertainty": 0.0, "audit": 0.4}
    draw = s.round_draw(weights, shares, 40, rng=rng)
    assert set(draw.fired) == {"risk", "audit"}  # no entry for a stratum without share
    fired = np.column_stack([draw.fired["risk"], draw.fired["audit"]])
    assert fired.shape == (draw.index.size, 2)
    assert fired.any(axis=1).all()
    expected = s.mix_inclusion(weights, shares, 40).inclusion[draw.index]
    assert draw.inclusion == pytest.approx(expected)
    single = s.round_draw(weights, {"audit": 1.0}, 40, rng=rng)
    assert single.fired["audit"].all()
    assert single.inclusion == pytest.approx(np.full(single.index.size, 40 / 500))


def test_round_draw_names_missing_weights():
    with pytest.raises(ValueError, match="diversity"):
        s.round_draw(
            {"risk": np.ones(3)}, {"risk": 0.5, "diversity": 0.5}, 1, rng=np.random.default_rng()
        )


def _bandit_run(rate: dict[str, float], *, rounds: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    successes = {"risk": 0.0, "uncertainty": 0.0}
    failures = {"risk": 0.0, "uncertainty": 0.0}
    shares = dict(s.DEFAULT_SHARES)
    for _ in range(rounds):
        shares = s.bandit_shares(s.DEFAULT_SHARES, successes, failures, audit_floor=0.05, rng=rng)
        for arm in ("risk", "uncertainty"):
            reviews = rng.poisson(20 * shares[arm])
            found = rng.binomial(reviews, rate[arm])
            successes[arm] += found
            failures[arm] += reviews - found
    return shares


def test_bandit_moves_capacity_to_the_arm_that_finds_more_violations():
    pool = s.DEFAULT_SHARES["risk"] + s.DEFAULT_SHARES["uncertainty"]
    risk_wins = _bandit_run({"risk": 0.6, "uncertainty": 0.2}, rounds=15, seed=7)
    assert risk_wins["risk"] > 0.9 * pool
    uncertainty_wins = _bandit_run({"risk": 0.2, "uncertainty": 0.6}, rounds=15, seed=8)
    assert uncertainty_wins["uncertainty"] > 0.9 * pool
    for shares in (risk_wins, uncertainty_wins):
        assert shares["diversity"] == pytest.approx(s.DEFAULT_SHARES["diversity"])
        assert sum(shares.values()) == pytest.approx(1.0)


def test_bandit_respects_the_audit_floor():
    rng = np.random.default_rng(9)
    lead = {"risk": 0.5, "uncertainty": 0.3, "diversity": 0.2, "audit": 0.0}
    shares = s.bandit_shares(lead, {"risk": 3}, {"risk": 7}, audit_floor=0.1, rng=rng)
    assert shares["audit"] == pytest.approx(0.1)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["diversity"] == pytest.approx(0.2 * 0.9)
    high = {**lead, "audit": 0.3}
    assert s.bandit_shares(high, {}, {}, audit_floor=0.1, rng=rng)["audit"] == pytest.approx(
        0.3 / 1.3
    )


def test_a_likely_violator_whose_category_is_unclear_is_uncertain_too():
    p = np.array([0.9, 0.9, 0.5, 0.02])
    categories = np.array(
        [
            [0.98, 0.01, 0.01],  # sure it is this category
            [0.35, 0.33, 0.32],  # cannot tell which
            [0.98, 0.01, 0.01],
            [0.35, 0.33, 0.32],  # unclear, but hardly violating
        ]
    )
    binary = s.strategy_weights(p)["uncertainty"]
    weights = s.strategy_weights(p, categories=categories)["uncertainty"]
    assert weights[1] > 100 * weights[0]  # the unclear category lifts it
    assert weights[0] == pytest.approx(binary[0])  # a clear one changes nothing
    assert weights[2] == pytest.approx(binary[2]) == pytest.approx(1.0)  # p = 0.5 stays top
    assert weights[3] == pytest.approx(binary[3])  # p small: the category hardly matters
    none_given = s.strategy_weights(p, categories=np.zeros((4, 3)))["uncertainty"]
    assert none_given == pytest.approx(binary)  # upstream scores without categories
    with pytest.raises(ValueError, match="one row per probability"):
        s.strategy_weights(p, categories=categories[:2])
