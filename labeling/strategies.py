"""The maths of what enters the review queue: how each strategy scores merchants, how a mix
of strategies becomes one inclusion probability per merchant, and the bandit that moves
capacity between strategies. Pure numpy: no Django, tested with arrays.

Sampling is Poisson: each strategy s spends its share of the capacity by giving every
merchant i its own inclusion probability pi_s(i) = min(1, c_s * w_s(i)), with c_s chosen
so that the expected number it selects is its capacity; a merchant selected by any
strategy is reviewed, with pi(i) = 1 - prod_s (1 - pi_s(i)). No merchant has pi = 0 while
the audit stratum (uniform weights) has capacity, so Horvitz-Thompson weights 1/pi give
unbiased estimates of prevalence, precision and recall over all merchants.
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


def poisson_inclusion(weights: np.ndarray, expected: float) -> np.ndarray:
    """pi(i) = min(1, c * w(i)) with c such that sum(pi) = expected (capped rows fixed at 1,
    the rest rescaled, until stable). Weights must be non-negative."""
    w = np.asarray(weights, float)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    n = len(w)
    if expected <= 0 or n == 0:
        return np.zeros(n)
    if expected >= np.count_nonzero(w):
        return (w > 0).astype(float)
    capped = np.zeros(n, dtype=bool)
    while True:
        free = ~capped
        budget = expected - capped.sum()
        c = budget / max(w[free].sum(), _EPS)
        pi = np.where(capped, 1.0, c * w)
        newly = free & (pi >= 1.0)
        if not newly.any():
            return np.minimum(pi, 1.0)
        capped |= newly


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
