"""Honest figures from the review queue: prevalence, precision and recall over all merchants,
estimated from the reviews that Poisson sampling drew (`labeling.strategies.round_draw`), and
the naive figures a dashboard would show from the same reviews. Pure numpy and scipy.

Each round of the queue is a Poisson sample of the whole population: merchant i is drawn
with its logged inclusion probability pi_i, independently of the others. The
Horvitz-Thompson total t = sum(y / pi) over a round's draws is unbiased for the population
total of y, with variance estimated without bias by v = sum((1 - pi) y^2 / pi^2).

Model-assisted form (optional, recommended). Given the model's prediction f of each draw
and its sum over the population, all as scored when the round was drawn, the difference
estimator t = sum_population(f) + sum((y - f) / pi) is unbiased for any f fixed before the
draw, calibrated or not, with variance sum((1 - pi) (y - f)^2 / pi^2): the Horvitz-Thompson
correction only carries the model's errors (Zrnic & Candes, "Active statistical inference",
2024). It matters when the queue concentrates on high scores: violators the model misses
then have tiny pi, most runs draw none of them, and plain Horvitz-Thompson both misses
their share and reports a small variance. But while the model is young (trained on a few
dozen labels) its errors are large and the few audit draws cannot yet measure them, and
then the model-assisted interval is the one that misses. So with predictions the estimate
is the model-assisted value with the hull of both 95 % intervals, which covers whenever
either does. In bench/active_learning.py (see bench/RESULTS.md), under the default mix,
plain HT covered the true prevalence in 78-100 % of runs up to 100 labels and in 66-90 %
from 200 on, the model-assisted interval alone in 75-87 % up to 100 labels and 89-98 % from
200 on, the hull in 97-100 % throughout, barely wider than the model-assisted interval.
Recall's hull covered only 87-93 % (see `recall`).
Without predictions (None) the estimators are plain Horvitz-Thompson (f = 0).

The rounds are adaptive: round r's pi depend on labels from earlier rounds (the model is
retrained on them). Given the past, round r's estimate is still unbiased, so the errors of
the rounds form a martingale difference sequence, and a combination with weights fixed
before each round is unbiased with variance sum(w_r^2 v_r) (Zrnic & Candes; the same
argument as adaptive importance sampling). Here the rounds' totals are simply added
(w_r = 1): prevalence = sum_r t_r(y) / sum_r N_r, the average of the per-round prevalences
weighted by population size, which is known before each draw. Weights from the data
(inverse variance, say) would bias the result: a round that happened to miss the rare
violators has the smallest variance.

- prevalence: the estimated total of y over the known population size.
- precision, P(y = 1 | flagged): the estimated total of y over the flagged merchants divided
  by their known number (`population_flagged`, counted when the round was drawn), so it is
  unbiased too.
- recall, P(flagged | y = 1): a ratio of two estimated totals, t(flagged y) / t(y), whose
  variance comes from linearisation: the residuals (y - f)(flagged - R) / t(y) in the
  variance formula. Consistent, not exactly unbiased: on small samples it leans high. The
  totals are kept within what the draws prove (at least the violators drawn, caught ones
  no more than all), which a model-assisted total can otherwise undershoot. Its
  denominator hinges on the violators the model does not flag, which only the audit
  stratum reaches: expect wide intervals until it has drawn a few hundred merchants.

Intervals (95 %): Korn & Graubard's (1998) Clopper-Pearson interval at the effective sample
size n_eff = p (1 - p) / var (the number of simple-random draws that would give the same
variance), never more than the draws it rests on, so a zero or tiny estimated variance (as
when nothing positive was drawn) falls back to the exact binomial interval of those draws.
It is asymmetric, as the skewed sampling distribution of a rare outcome needs. In the
simulated queue of tests/labeling/test_estimation.py (3,000 merchants, 4 % violating, six
adaptive rounds of 40 reviews, with predictions) Wald intervals, symmetric about the
estimate, in its place covered the true prevalence in 91 % of 400 runs under a moderate mix
and 72 % under the default mix; this one in 99.5 % and 96 %.

Nonresponse: `RoundSample.drawn` counts a round's draws including those not yet resolved
(in the queue, escalated). The resolved draws are taken as a further Poisson subsample, at
the rate resolved / drawn, of the round's draws, the same for every merchant (response
homogeneity within the round): their inclusion probability becomes pi * resolved / drawn.
That is right if whether a draw gets resolved does not depend on its outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z = float(stats.norm.ppf(0.975))
_ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float  # 95 % interval
    high: float
    n: int  # sampled units the estimate rests on


@dataclass(frozen=True)
class RoundSample:
    y: np.ndarray  # 0/1 outcome per resolved draw of the round
    inclusion: np.ndarray  # pi per resolved draw
    flagged: np.ndarray  # bool per resolved draw: the model flagged it at draw time
    population: int  # merchants in the population when the round was drawn
    population_flagged: int  # of which flagged
    drawn: int | None = None  # draws including unresolved ones (None: all resolved)
    # Optional, for the model-assisted estimates: the model's P(y = 1) of each resolved draw
    # and its sums over the population and over the flagged merchants, all as scored when
    # the round was drawn (None: plain Horvitz-Thompson).
    prediction: np.ndarray | None = None
    population_prediction: float | None = None
    population_flagged_prediction: float | None = None


@dataclass(frozen=True)
class _Round:
    y: np.ndarray
    flagged: np.ndarray
    residual: np.ndarray  # y minus the prediction (y itself without predictions)
    weight: np.ndarray  # 1 / pi, with the nonresponse adjustment
    inclusion: np.ndarray  # pi, with the nonresponse adjustment
    population: int
    population_flagged: int
    predicted: float  # the prediction's sum over the population (0 without predictions)
    predicted_flagged: float  # ... over the flagged merchants

    def total(self, values: np.ndarray) -> float:
        return float(np.sum(values * self.weight))

    def variance(self, values: np.ndarray) -> float:
        """Unbiased estimate of the Poisson-sampling variance of sum(values / pi)."""
        return float(np.sum((1.0 - self.inclusion) * (values * self.weight) ** 2))


def _checked(sample: RoundSample) -> _Round | None:
    y = np.asarray(sample.y, float)
    pi = np.asarray(sample.inclusion, float)
    flagged = np.asarray(sample.flagged, bool)
    if not (y.shape == pi.shape == flagged.shape) or y.ndim != 1:
        raise ValueError("y, inclusion and flagged must be 1-d arrays of the same length")
    if np.any((pi <= 0) | (pi > 1)):
        raise ValueError("inclusion probabilities must be within (0, 1]")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("y must be 0 or 1")
    if sample.population_flagged > sample.population:
        raise ValueError("population_flagged cannot exceed population")
    if sample.drawn is not None and sample.drawn < len(y):
        raise ValueError("drawn cannot be fewer than the resolved draws")
    assisted = (
        sample.prediction,
        sample.population_prediction,
        sample.population_flagged_prediction,
    )
    if any(v is None for v in assisted) and any(v is not None for v in assisted):
        raise ValueError(
            "prediction, population_prediction and population_flagged_prediction go together"
        )
    prediction = np.zeros_like(y) if sample.prediction is None else np.asarray(sample.prediction)
    if prediction.shape != y.shape:
        raise ValueError("prediction must have one value per resolved draw")
    if sample.population <= 0:
        return None
    if sample.drawn is not None and sample.drawn > len(y):
        if len(y) == 0:
            return None  # nothing resolved: the round says nothing (it drops out)
        pi = pi * len(y) / sample.drawn
    return _Round(
        y=y,
        flagged=flagged,
        residual=y - prediction,
        weight=1.0 / pi,
        inclusion=pi,
        population=sample.population,
        population_flagged=sample.population_flagged,
        predicted=float(sample.population_prediction or 0.0),
        predicted_flagged=float(sample.population_flagged_prediction or 0.0),
    )


def _rounds(rounds: Sequence[RoundSample], *, assisted: bool = True) -> list[_Round]:
    used = [r for r in (_checked(s) for s in rounds) if r is not None]
    if assisted:
        return used
    return [
        dataclasses.replace(r, residual=r.y, predicted=0.0, predicted_flagged=0.0) for r in used
    ]


def _with_predictions(rounds: Sequence[RoundSample]) -> bool:
    return any(r.prediction is not None for r in rounds)


def _combined(
    rounds: Sequence[RoundSample], estimate: Callable[[list[_Round]], Estimate | None]
) -> Estimate | None:
    """The plain Horvitz-Thompson estimate, or with predictions the model-assisted value
    with the hull of the two intervals (it covers whenever either does)."""
    plain = estimate(_rounds(rounds, assisted=False))
    if not _with_predictions(rounds) or plain is None:
        return plain
    assisted = estimate(_rounds(rounds))
    if assisted is None:
        return plain
    return Estimate(
        assisted.value, min(assisted.low, plain.low), max(assisted.high, plain.high), assisted.n
    )


def prevalence(rounds: Sequence[RoundSample]) -> Estimate | None:
    """Share of the population with y = 1, rounds added up."""
    return _combined(rounds, _prevalence)


def precision(rounds: Sequence[RoundSample]) -> Estimate | None:
    """P(y = 1 | flagged): estimated total of y over the flagged merchants divided by their
    known number."""
    return _combined(rounds, _precision)


def recall(rounds: Sequence[RoundSample]) -> Estimate | None:
    """P(flagged | y = 1): ratio of estimated totals, linearised variance; None until a draw
    has y = 1."""
    return _combined(rounds, _recall)


def _prevalence(used: list[_Round]) -> Estimate | None:
    population = sum(r.population for r in used)
    if population == 0:
        return None
    total = sum(r.predicted + r.total(r.residual) for r in used)
    variance = sum(r.variance(r.residual) for r in used)
    n = sum(len(r.y) for r in used)
    return _korn_graubard(total / population, variance / population**2, n)


def _precision(rounds: list[_Round]) -> Estimate | None:
    used = [r for r in rounds if r.population_flagged > 0]
    flagged = sum(r.population_flagged for r in used)
    if flagged == 0:
        return None
    total = sum(r.predicted_flagged + r.total(r.residual * r.flagged) for r in used)
    variance = sum(r.variance(r.residual * r.flagged) for r in used)
    n = sum(int(r.flagged.sum()) for r in used)
    return _korn_graubard(total / flagged, variance / flagged**2, n)


def _recall(used: list[_Round]) -> Estimate | None:
    if not any(r.y.any() for r in used):
        return None
    # Each round's population holds at least the violators that round drew: a noisy
    # estimate below that (possible with model-assisted totals) is raised to it.
    drawn = sum(float(r.y.sum()) for r in used)
    drawn_caught = sum(float((r.y * r.flagged).sum()) for r in used)
    positives = max(sum(r.predicted + r.total(r.residual) for r in used), drawn)
    caught = sum(r.predicted_flagged + r.total(r.residual * r.flagged) for r in used)
    caught = min(max(caught, drawn_caught), positives)
    ratio = caught / positives
    variance = sum(r.variance(r.residual * (r.flagged - ratio)) for r in used) / positives**2
    n = sum(int(r.y.sum()) for r in used)
    return _korn_graubard(ratio, variance, n)


def _korn_graubard(value: float, variance: float, n: int) -> Estimate:
    """Clopper-Pearson interval at the effective sample size p (1 - p) / variance, capped at
    n; at p = 0 or 1, or zero variance, the exact interval of n draws."""
    p = min(max(value, 0.0), 1.0)
    if n <= 0:
        return Estimate(p, 0.0, 1.0, 0)
    effective = float(n)
    if 0.0 < p < 1.0 and variance > 0.0:
        effective = min(p * (1.0 - p) / variance, float(n))
    successes = p * effective
    low = float(stats.beta.ppf(_ALPHA / 2, successes, effective - successes + 1)) if p > 0 else 0.0
    high = (
        float(stats.beta.ppf(1 - _ALPHA / 2, successes + 1, effective - successes))
        if p < 1
        else 1.0
    )
    return Estimate(p, min(low, p), max(high, p), n)


# --- What a naive dashboard shows -------------------------------------------------------------


def naive_prevalence(rounds: Sequence[RoundSample]) -> Estimate | None:
    """Share of y = 1 among the resolved draws, as if they were a simple random sample
    (Wilson interval). Biased whenever the queue prioritises: the figure to compare with."""
    y = _pooled(rounds, "y")
    return proportion(int(y.sum()), len(y))


def naive_precision(rounds: Sequence[RoundSample]) -> Estimate | None:
    """Share of y = 1 among the flagged resolved draws (Wilson)."""
    y, flagged = _pooled(rounds, "y"), _pooled(rounds, "flagged").astype(bool)
    return proportion(int(y[flagged].sum()), int(flagged.sum()))


def naive_recall(rounds: Sequence[RoundSample]) -> Estimate | None:
    """Share flagged among the resolved draws with y = 1 (Wilson)."""
    y, flagged = _pooled(rounds, "y").astype(bool), _pooled(rounds, "flagged").astype(bool)
    return proportion(int(flagged[y].sum()), int(y.sum()))


def _pooled(rounds: Sequence[RoundSample], name: str) -> np.ndarray:
    parts = [np.asarray(getattr(r, name), float) for r in rounds]
    return np.concatenate(parts) if parts else np.zeros(0)


# --- Simple random samples ----------------------------------------------------------------------


def _wilson(successes: int, n: int) -> tuple[float, float]:
    p = successes / n
    denominator = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denominator
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / denominator
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def proportion(successes: int, n: int) -> Estimate | None:
    """successes / n with the Wilson score 95 % interval; None when n = 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be within [0, n]")
    low, high = _wilson(successes, n)
    return Estimate(successes / n, low, high, n)


def difference(successes_a: int, n_a: int, successes_b: int, n_b: int) -> Estimate | None:
    """p_a - p_b with Newcombe's (1998) hybrid score interval (his method 10: the Wilson
    intervals of each proportion combined); n = n_a + n_b. None when either n is 0."""
    a, b = proportion(successes_a, n_a), proportion(successes_b, n_b)
    if a is None or b is None:
        return None
    d = a.value - b.value
    low = d - float(np.hypot(a.value - a.low, b.high - b.value))
    high = d + float(np.hypot(a.high - a.value, b.value - b.low))
    return Estimate(d, low, high, n_a + n_b)
