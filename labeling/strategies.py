"""The maths of what enters the review queue: how each strategy scores merchants, how a mix
of strategies becomes one inclusion probability per merchant, and the bandit that moves
capacity between strategies. Pure numpy: no Django, tested with arrays.

Sampling is Poisson: each strategy s spends its share of the capacity by giving every
merchant i its own inclusion probability pi_s(i) = min(1, c_s * w_s(i)), with c_s chosen
so that the expected number it selects is its capacity; a merchant selected by any
strategy is reviewed, with pi(i) = 1 - prod_s (1 - pi_s(i)). No merchant has pi = 0 while
the audit stratum (uniform weights) has capacity, so Horvitz-Thompson weights 1/pi give
unbiased estimates of prevalence, precision and recall over all merchants.

The live queue draws in rounds: `strategy_weights` turns the current model's scores into one
weight vector per strategy in `STRATEGIES`, and `round_draw` spends a round's capacity over
the whole population with one independent Bernoulli draw per merchant and stratum. Merchants
labelled in an earlier round are drawn too, at no cost (their label is reused), so that every
round is a Poisson sample of the whole population and its Horvitz-Thompson estimate is
unbiased given the past (`labeling.estimation` combines the rounds). `bandit_shares` lets
Thompson sampling move capacity between the risk and uncertainty arms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_EPS = 1e-12


def risk(probability: np.ndarray, monthly_volume: np.ndarray) -> np.ndarray:
    """Calibrated P(violating) times exposure (log of monthly volume): big violators first."""
    return np.asarray(probability, float) * np.log1p(np.maximum(np.asarray(monthly_volume), 0))


def margin_uncertainty(probability: np.ndarray) -> np.ndarray:
    """1 at p = 0.5, 0 at p = 0 or 1 (one minus the margin between the two classes)."""
    p = np.asarray(probability, float)
    return 1.0 - np.abs(2.0 * p - 1.0)


def entropy_uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row of class probabilities (binary: pass (p, 1 - p)),
    in [0, 1]."""
    q = np.clip(np.asarray(probabilities, float), _EPS, 1.0)
    q = q / q.sum(axis=1, keepdims=True)
    return -(q * np.log(q)).sum(axis=1) / np.log(q.shape[1])


def diversify(
    scores: np.ndarray, vectors: np.ndarray | sp.spmatrix, *, k: int, penalty: float = 0.5
) -> np.ndarray:
    """Greedy batch selection of k rows: each pick discounts the others' scores by
    `penalty` times their cosine similarity to it, so near-duplicates do not fill the top.
    `vectors` are row-normalised (e.g. TF-IDF). Returns the chosen row indices in order."""
    gains = np.asarray(scores, float).copy()
    chosen: list[int] = []
    similarity_to_chosen = np.zeros(len(gains))
    for _ in range(min(k, len(gains))):
        adjusted = gains * (1.0 - penalty * similarity_to_chosen)
        adjusted[chosen] = -np.inf
        best = int(np.argmax(adjusted))
        chosen.append(best)
        column = vectors @ vectors[best].T
        similarity = np.asarray(column.toarray() if sp.issparse(column) else column).ravel()
        similarity_to_chosen = np.maximum(similarity_to_chosen, similarity)
    return np.array(chosen, dtype=int)


def poisson_inclusion(
    weights: np.ndarray, expected: float, *, free: np.ndarray | None = None
) -> np.ndarray:
    """pi(i) = min(1, c * w(i)) with c such that the rows not marked `free` have
    sum(pi) = expected; free rows (already labelled: drawing them costs nothing) get pi from
    the same c. Rows of weight 0 get pi = 0. Weights must be non-negative."""
    w = np.asarray(weights, float)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    c = poisson_scale(w, expected, free=free)
    if np.isinf(c):
        return (w > 0).astype(float)
    return np.minimum(c * w, 1.0)


def poisson_scale(weights: np.ndarray, expected: float, *, free: np.ndarray | None = None) -> float:
    """The c of `poisson_inclusion`: sum over non-free rows of min(1, c * w) = expected, the
    rows whose c * w passes 1 being capped at 1. 0 when nothing is to be drawn, inf when the
    expected count reaches the number of non-free rows of positive weight (all are drawn)."""
    w = np.asarray(weights, float)
    if free is not None:
        w = w[~np.asarray(free, bool)]
    s = np.sort(w[w > 0])[::-1]
    if expected <= 0 or s.size == 0:
        return 0.0
    if expected >= s.size:
        return float("inf")
    # Scaled by the largest weight, so that tiny (sharpened) weights cannot underflow.
    top = s[0]
    s = s / top
    # With the k largest capped, c_k = (expected - k) / sum(s[k:]); the first k whose
    # largest uncapped row stays within 1 is the solution (the rows before it pass 1).
    tail = np.cumsum(s[::-1])[::-1]
    with np.errstate(over="ignore", divide="ignore"):
        c = (expected - np.arange(s.size)) / tail
    k = int(np.argmax(c * s <= 1.0))
    return float(c[k] / top)


@dataclass(frozen=True)
class MixSample:
    inclusion: np.ndarray  # pi(i): the probability merchant i is reviewed
    by_strategy: dict[str, np.ndarray]  # pi_s(i) per strategy


def mix_inclusion(
    weights: Mapping[str, np.ndarray], shares: Mapping[str, float], capacity: float
) -> MixSample:
    """Each strategy's share of the capacity spent by Poisson sampling on its weights; the
    merchant's overall inclusion probability combines them as independent draws."""
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("the shares must add up to more than 0")
    by_strategy = {
        name: poisson_inclusion(weights[name], capacity * share / total)
        for name, share in shares.items()
        if share > 0
    }
    miss = np.ones(len(next(iter(weights.values()))))
    for pi in by_strategy.values():
        miss *= 1.0 - pi
    return MixSample(inclusion=1.0 - miss, by_strategy=by_strategy)


def thompson_shares(
    successes: Mapping[str, float],
    failures: Mapping[str, float],
    *,
    rng: np.random.Generator,
    draws: int = 2_000,
) -> dict[str, float]:
    """Thompson sampling over arms with Beta(1 + successes, 1 + failures) posteriors: each
    arm's share is the probability that it is the best, estimated by `draws` draws."""
    arms = sorted(successes)
    samples = np.column_stack(
        [rng.beta(1 + successes[a], 1 + failures[a], size=draws) for a in arms]
    )
    wins = np.bincount(np.argmax(samples, axis=1), minlength=len(arms))
    return {a: float(w / draws) for a, w in zip(arms, wins, strict=True)}


def with_floor(shares: Mapping[str, float], floor: Mapping[str, float]) -> dict[str, float]:
    """Reserve each floored arm its floor, and spread the rest by `shares`."""
    reserved = sum(floor.values())
    if reserved > 1:
        raise ValueError("floors add up to more than the whole capacity")
    total = sum(shares.values()) or 1.0
    out = {arm: (1 - reserved) * share / total for arm, share in shares.items()}
    for arm, minimum in floor.items():
        out[arm] = out.get(arm, 0.0) + minimum
    return out


# --- The live queue's rounds ----------------------------------------------------------------

STRATEGIES = ("risk", "uncertainty", "diversity", "audit")

# The default mix, in shares of a round's capacity; tuned with bench/active_learning.py
# (bench/RESULTS.md, "Active learning: strategies, mixes and honest estimates"). Mostly
# risk: on the two scikit-learn sets it finds 0.99-1.00 of the violations top-risk review
# finds in the first 200 reviews and needs 1.0-1.1x the labels of pure uncertainty. On the
# synthetic merchant world no mix does both: the labels that teach the model fastest are
# those near p = 0.5, and those are violators only about half the time. The audit stratum
# (uniform over all merchants) keeps every pi > 0 and the prevalence intervals honest:
# with 10 % they covered the truth in 97-100 % of runs.
DEFAULT_SHARES: dict[str, float] = {
    "risk": 0.8,
    "uncertainty": 0.05,
    "diversity": 0.05,
    "audit": 0.1,
}

# Uncertainty weight given to merchants the model is sure about, relative to 1 at p = 0.5:
# keeps them reachable through the uncertainty strata, not only through the audit stratum.
UNCERTAINTY_FLOOR = 0.001
# Exponents that sharpen the risk and uncertainty weights. A round reviews a few dozen of
# up to a million merchants, so inclusion in proportion to p itself spreads the capacity
# thinly over the many merchants of small p: on the benchmark's synthetic world (15,000
# merchants, 20 reviews a round) a risk-heavy mix then found a quarter of the violations
# top-risk review finds in the first 200 reviews. Raised to a power, the weights concentrate
# the draws on the top of each ranking, as top-k review does, while every merchant keeps
# pi > 0 through the audit stratum.
RISK_SHARPNESS = 16.0
UNCERTAINTY_SHARPNESS = 16.0


def strategy_weights(
    probability: np.ndarray,
    monthly_volume: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    categories: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Non-negative weights per strategy in `STRATEGIES` over the population.

    risk: `risk(p ** RISK_SHARPNESS, volume)` (the sharpened p alone without volumes;
    exposure is not sharpened, it only tilts the draw towards big merchants);
    uncertainty: `margin_uncertainty(p)` to the power `UNCERTAINTY_SHARPNESS`, never below
    `UNCERTAINTY_FLOOR`; diversity: the uncertainty divided by the size of the merchant's
    near-duplicate group (`groups`: one id per row; None: every row its own group), so a
    cluster of look-alikes weighs what one of them does and cannot fill the sample; audit:
    uniform.

    `categories` (optional): one row per merchant of P(category | violating) for its likeliest
    categories (zeros where the model gave none). Then the uncertainty is the larger of the
    binary margin and p times the margin between the two likeliest categories: a merchant
    that is likely violating but whose category the model cannot tell is informative too
    (per-category uncertainty; sharpened like the rest, it counts when both are near 1).
    """
    p = np.clip(np.asarray(probability, float), 0.0, 1.0)
    n = len(p)
    sharp = p**RISK_SHARPNESS
    if monthly_volume is None:
        risk_weight = sharp
    else:
        if len(monthly_volume) != n:
            raise ValueError("monthly_volume must have one value per probability")
        risk_weight = risk(sharp, monthly_volume)
    unsure = margin_uncertainty(p)
    if categories is not None:
        given = np.clip(np.asarray(categories, float), 0.0, 1.0)
        if given.ndim != 2 or len(given) != n:
            raise ValueError("categories must have one row per probability")
        top = -np.sort(-given, axis=1)
        # Margin between the two likeliest categories; rows with fewer than two say nothing.
        second = top[:, 1] if top.shape[1] > 1 else np.zeros(n)
        category_margin = np.where(second > 0, 1.0 - (top[:, 0] - second), 0.0)
        unsure = np.maximum(unsure, p * category_margin)
    uncertainty = np.maximum(unsure**UNCERTAINTY_SHARPNESS, UNCERTAINTY_FLOOR)
    if groups is None:
        diversity = uncertainty.copy()
    else:
        if len(groups) != n:
            raise ValueError("groups must have one id per probability")
        _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
        diversity = uncertainty / counts[inverse]
    return {
        "risk": risk_weight,
        "uncertainty": uncertainty,
        "diversity": diversity,
        "audit": np.ones(n),
    }


@dataclass(frozen=True)
class RoundDraw:
    index: np.ndarray  # int rows selected this round
    inclusion: np.ndarray  # overall pi of each selected row (0 < pi <= 1)
    fired: dict[str, np.ndarray]  # per strategy with share > 0: its own Bernoulli chose the row
    expected: float  # sum of pi over the rows that are not free: the reviews it should cost


def round_draw(
    weights: Mapping[str, np.ndarray],
    shares: Mapping[str, float],
    capacity: float,
    *,
    rng: np.random.Generator,
    free: np.ndarray | None = None,
) -> RoundDraw:
    """One round of Poisson sampling over the whole population.

    Each strategy with a positive share gets `capacity * share / sum(shares)` expected
    reviews: its scale c_s is set so that the expected number of rows it selects outside
    `free` (rows already labelled, whose label is reused at no cost) is that capacity, and
    free rows get pi_s = min(1, c_s * w_s) from the same scale. Each stratum then draws every
    row independently; a row is selected if any stratum fires, with overall
    pi = 1 - prod_s (1 - pi_s), which is what its Horvitz-Thompson weight 1/pi needs.
    """
    positive = {name: float(share) for name, share in shares.items() if share > 0}
    total = sum(positive.values())
    if total <= 0:
        raise ValueError("the shares must add up to more than 0")
    missing = sorted(set(positive) - set(weights))
    if missing:
        raise ValueError(f"no weights for strategies {missing}")
    n = len(next(iter(weights[name] for name in positive)))
    mask = np.zeros(n, bool) if free is None else np.asarray(free, bool)
    if mask.shape != (n,):
        raise ValueError("free must be one bool per row")
    log_miss = np.zeros(n)
    fires: dict[str, np.ndarray] = {}
    for name, share in positive.items():
        pi = poisson_inclusion(weights[name], capacity * share / total, free=mask)
        fires[name] = rng.random(n) < pi
        with np.errstate(divide="ignore"):
            log_miss += np.log1p(-pi)
    selected = np.logical_or.reduce(list(fires.values()))
    index = np.flatnonzero(selected)
    # -expm1(sum log1p(-pi_s)) keeps tiny probabilities that 1 - prod(1 - pi_s) rounds to 0.
    inclusion = -np.expm1(log_miss[index])
    return RoundDraw(
        index=index,
        inclusion=inclusion,
        fired={name: fire[index] for name, fire in fires.items()},
        expected=float(-np.expm1(log_miss[~mask]).sum()),
    )


def bandit_shares(
    lead_shares: Mapping[str, float],
    successes: Mapping[str, float],
    failures: Mapping[str, float],
    *,
    audit_floor: float,
    rng: np.random.Generator,
) -> dict[str, float]:
    """The lead's mix with its risk + uncertainty capacity re-split between those two arms
    by Thompson sampling (each arm's share is the probability that it is the best under
    Beta(1 + successes, 1 + failures)); diversity keeps the lead's share, audit gets
    max(lead's share, audit_floor), and the others shrink in proportion to make room.
    Shares over `STRATEGIES`, summing to 1."""
    if not 0.0 <= audit_floor <= 1.0:
        raise ValueError("audit_floor must be within [0, 1]")
    unknown = sorted(set(lead_shares) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"unknown strategies {unknown}")
    lead_total = sum(max(float(v), 0.0) for v in lead_shares.values())
    if lead_total <= 0:
        raise ValueError("the lead's shares must add up to more than 0")
    lead = {s: max(float(lead_shares.get(s, 0.0)), 0.0) / lead_total for s in STRATEGIES}
    arms = ("risk", "uncertainty")
    best = thompson_shares(
        {a: float(successes.get(a, 0.0)) for a in arms},
        {a: float(failures.get(a, 0.0)) for a in arms},
        rng=rng,
    )
    pool = lead["risk"] + lead["uncertainty"]
    out = {
        "risk": pool * best["risk"],
        "uncertainty": pool * best["uncertainty"],
        "diversity": lead["diversity"],
    }
    audit = max(lead["audit"], audit_floor)
    rest = sum(out.values())
    if rest <= 0:
        return {"risk": 0.0, "uncertainty": 0.0, "diversity": 0.0, "audit": 1.0}
    scaled = {s: v * (1.0 - audit) / rest for s, v in out.items()}
    return {**scaled, "audit": audit}
