"""Estimates from the review queue: unbiased and covering on simulated populations sampled the
way the live queue samples them, and the textbook values of the simple intervals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from labeling import estimation as e
from labeling import strategies as s

# --- Wilson and Newcombe on Newcombe's (1998) worked examples ----------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_proportion_is_wilsons_interval(successes, n, low, high):
    got = e.proportion(successes, n)
    assert got is not None
    assert (got.value, got.low, got.high, got.n) == pytest.approx(
        (successes / n, low, high, n), abs=5e-5
    )


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "d", "low", "high"),
    [
        (56, 70, 48, 80, 0.2, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.6, 0.1705, 0.8090),
        (5, 56, 0, 29, 5 / 56, -0.0381, 0.1926),
        (0, 10, 0, 20, 0.0, -0.1611, 0.2775),
        (10, 10, 0, 10, 1.0, 0.6075, 1.0),
    ],
)
def test_difference_is_newcombes_hybrid_score_interval(a, n_a, b, n_b, d, low, high):
    got = e.difference(a, n_a, b, n_b)
    assert got is not None
    assert (got.value, got.low, got.high) == pytest.approx((d, low, high), abs=5e-5)


def test_nothing_to_estimate_gives_none():
    assert e.proportion(0, 0) is None
    assert e.difference(1, 2, 0, 0) is None
    for estimator in (e.prevalence, e.precision, e.recall, e.naive_prevalence):
        assert estimator([]) is None
    no_flags = e.RoundSample(
        y=np.array([0, 1]),
        inclusion=np.array([0.5, 0.5]),
        flagged=np.array([False, False]),
        population=10,
        population_flagged=0,
    )
    assert e.precision([no_flags]) is None
    assert e.naive_precision([no_flags]) is None
    negatives = e.RoundSample(np.zeros(3), np.full(3, 0.3), np.ones(3, bool), 10, 4)
    assert e.recall([negatives]) is None
    assert e.naive_recall([negatives]) is None


def test_degenerate_samples_give_finite_intervals():
    census = e.RoundSample(np.array([1, 0, 0, 0]), np.ones(4), np.array([1, 1, 0, 0], bool), 4, 2)
    none_found = e.RoundSample(np.zeros(50), np.full(50, 0.05), np.zeros(50, bool), 1_000, 10)
    for estimate in (
        e.prevalence([census]),
        e.precision([census]),
        e.recall([census]),
        e.prevalence([none_found]),
        e.precision([none_found]),
    ):
        assert estimate is not None
        assert np.isfinite([estimate.value, estimate.low, estimate.high]).all()
        assert 0 <= estimate.low <= estimate.value <= estimate.high <= 1
    got = e.prevalence([census])
    assert got is not None and got.value == pytest.approx(0.25)
    found_nothing = e.prevalence([none_found])
    assert found_nothing is not None and found_nothing.value == 0 and found_nothing.high > 0


def test_rounds_add_up_by_population():
    first = e.RoundSample(
        np.r_[np.ones(10), np.zeros(90)], np.ones(100), np.ones(100, bool), 100, 100
    )
    second = e.RoundSample(
        np.r_[np.ones(60), np.zeros(240)], np.ones(300), np.zeros(300, bool), 300, 0
    )
    got = e.prevalence([first, second])
    assert got is not None and got.value == pytest.approx(70 / 400) and got.n == 400
    # Only the first round flagged anything: precision rests on it alone.
    precision, recall = e.precision([first, second]), e.recall([first, second])
    assert precision is not None and precision.value == pytest.approx(0.1)
    assert recall is not None and recall.value == pytest.approx(10 / 70)


def test_predictions_give_the_model_assisted_value_and_the_hull_of_both_intervals():
    plain = e.RoundSample(
        y=np.array([1, 0, 0, 1]),
        inclusion=np.full(4, 0.5),
        flagged=np.array([True, False, False, True]),
        population=10,
        population_flagged=3,
    )
    assisted = dataclasses.replace(
        plain,
        prediction=np.array([0.8, 0.1, 0.2, 0.6]),
        population_prediction=3.0,
        population_flagged_prediction=2.0,
    )
    without, with_ = e.prevalence([plain]), e.prevalence([assisted])
    assert without is not None and with_ is not None
    assert without.value == pytest.approx((1 / 0.5 + 1 / 0.5) / 10)
    # 3.0 predicted, plus the errors of the draws weighted by 1 / pi: (0.2 - 0.1 - 0.2 + 0.4) / 0.5
    assert with_.value == pytest.approx((3.0 + 0.6) / 10)
    assert with_.low <= without.low and with_.high >= without.high
    with pytest.raises(ValueError, match="go together"):
        e.prevalence([dataclasses.replace(plain, prediction=np.zeros(4))])


# --- Simulated queues ---------------------------------------------------------------------


def _world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True labels (about 5 % violating) and a model score that knows them only roughly."""
    rng = np.random.default_rng(seed)
    q = rng.beta(0.3, 6, size=n)
    y = (rng.random(n) < q).astype(int)
    score = 1 / (1 + np.exp(-(np.log(q / (1 - q)) + rng.normal(0, 1, n))))
    return y, score


# A moderate design (inclusion growing with the score, a fifth of the capacity uniform) for
# the estimators' own properties; the default mix's coverage is measured by
# bench/active_learning.py, and its unbiasedness checked below.
MODERATE_SHARES = {"risk": 0.5, "uncertainty": 0.3, "audit": 0.2}


def _moderate(score: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "risk": score,
        "uncertainty": s.margin_uncertainty(score) + 0.01,
        "audit": np.ones_like(score),
    }


def _live(score: np.ndarray) -> dict[str, np.ndarray]:
    return s.strategy_weights(score)


def _queue(
    y: np.ndarray,
    score: np.ndarray,
    *,
    rounds: int,
    capacity: float,
    rng: np.random.Generator,
    adaptive: bool,
    threshold: float = 0.3,
    live: bool = False,
) -> tuple[list[e.RoundSample], dict[str, float]]:
    """Rounds drawn by `round_draw` (the moderate design, or with `live` the default mix on
    `strategy_weights`), with the model's scores as predictions; with `adaptive`, each
    round's scores move labelled merchants to their labels, as a model retrained on them
    would. Returns the samples and the quantities they estimate (averaged over the rounds
    as the estimators weigh them)."""
    n = len(y)
    free = np.zeros(n, bool)
    samples = []
    caught = positives = flagged_total = 0
    shares = s.DEFAULT_SHARES if live else MODERATE_SHARES
    for _ in range(rounds):
        flagged = score >= threshold
        weights = _live(score) if live else _moderate(score)
        draw = s.round_draw(weights, shares, capacity, rng=rng, free=free)
        samples.append(
            e.RoundSample(
                y=y[draw.index],
                inclusion=draw.inclusion,
                flagged=flagged[draw.index],
                population=n,
                population_flagged=int(flagged.sum()),
                prediction=score[draw.index],
                population_prediction=float(score.sum()),
                population_flagged_prediction=float(score[flagged].sum()),
            )
        )
        caught += int((flagged & (y == 1)).sum())
        positives += int(y.sum())
        flagged_total += int(flagged.sum())
        free[draw.index] = True
        if adaptive:
            score = score.copy()
            score[draw.index] = 0.05 + 0.9 * y[draw.index]
    truth = {
        "prevalence": float(y.mean()),
        "precision": caught / flagged_total,
        "recall": caught / positives,
    }
    return samples, truth


def _plain(samples: list[e.RoundSample]) -> list[e.RoundSample]:
    """The same rounds without the model's predictions: plain Horvitz-Thompson."""
    return [
        dataclasses.replace(
            r, prediction=None, population_prediction=None, population_flagged_prediction=None
        )
        for r in samples
    ]


def _replicate(
    replications: int, *, adaptive: bool, seed: int, capacity: float = 40
) -> dict[str, np.ndarray]:
    """Per estimate, rows of (value, low, high, truth) over independent replications of the
    queue on one fixed population: "prevalence" etc. model-assisted, "plain_prevalence"
    etc. plain Horvitz-Thompson, "naive_prevalence" etc. unweighted."""
    y, score = _world(3_000, seed)
    rng = np.random.default_rng(seed + 1)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for _ in range(replications):
        samples, truth = _queue(y, score, rounds=6, capacity=capacity, rng=rng, adaptive=adaptive)
        for name in ("prevalence", "precision", "recall"):
            estimator = getattr(e, name)
            for label, got in (
                (name, estimator(samples)),
                (f"plain_{name}", estimator(_plain(samples))),
                (f"naive_{name}", getattr(e, f"naive_{name}")(samples)),
            ):
                if got is not None:  # naive precision: None when nothing flagged was drawn
                    rows.setdefault(label, []).append((got.value, got.low, got.high, truth[name]))
    return {name: np.array(r) for name, r in rows.items()}


@pytest.fixture(scope="module")
def adaptive_runs() -> dict[str, np.ndarray]:
    return _replicate(400, adaptive=True, seed=10)


@pytest.fixture(scope="module")
def fixed_score_runs() -> dict[str, np.ndarray]:
    return _replicate(200, adaptive=False, seed=20)


def _unbiased(runs: np.ndarray) -> bool:
    value, truth = runs[:, 0], runs[:, 3]
    se = value.std() / np.sqrt(len(value))
    return bool(abs(value.mean() - truth.mean()) < 3.5 * se)


@pytest.mark.parametrize("name", ["prevalence", "precision", "plain_prevalence", "plain_precision"])
def test_estimates_are_unbiased_when_scores_stay_fixed(fixed_score_runs, name):
    assert _unbiased(fixed_score_runs[name])


@pytest.mark.parametrize("name", ["prevalence", "precision", "plain_prevalence", "plain_precision"])
def test_adaptive_rounds_stay_unbiased(adaptive_runs, name):
    runs = adaptive_runs[name]
    assert _unbiased(runs)
    assert abs(runs[:, 0].mean() - runs[:, 3].mean()) < 0.1 * runs[:, 3].mean()


def test_recall_is_consistent_on_adaptive_rounds(adaptive_runs):
    """Recall is a ratio: biased upwards on small samples (E[a / b] > E[a] / E[b] when the
    estimated number of violators b is skewed), the bias vanishing as the sample grows."""
    small = adaptive_runs["recall"]
    large = _replicate(150, adaptive=True, seed=10, capacity=120)["recall"]
    bias_small = small[:, 0].mean() - small[:, 3].mean()
    bias_large = large[:, 0].mean() - large[:, 3].mean()
    assert abs(bias_large) < 0.05 * large[:, 3].mean()
    assert _unbiased(large)
    assert abs(bias_large) < abs(bias_small)


@pytest.mark.parametrize("name", ["prevalence", "precision", "recall"])
def test_intervals_cover_the_truth_at_the_nominal_rate(adaptive_runs, name):
    runs = adaptive_runs[name]
    covered = (runs[:, 1] <= runs[:, 3]) & (runs[:, 3] <= runs[:, 2])
    assert covered.mean() >= 0.92


def test_naive_figures_from_a_prioritised_queue_are_off(adaptive_runs):
    for name in ("prevalence", "recall"):
        runs = adaptive_runs[f"naive_{name}"]
        value, truth = runs[:, 0], runs[:, 3]
        assert value.mean() > 1.5 * truth.mean()  # the queue over-samples violators
        covered = (runs[:, 1] <= truth) & (truth <= runs[:, 2])
        assert covered.mean() < 0.5


def test_the_default_mix_gives_unbiased_prevalence_and_precision():
    y, score = _world(3_000, 50)
    rng = np.random.default_rng(51)
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(300):
        samples, truth = _queue(y, score, rounds=4, capacity=40, rng=rng, adaptive=True, live=True)
        for name in ("prevalence", "precision"):
            for label, rounds in ((name, samples), (f"plain_{name}", _plain(samples))):
                got = getattr(e, name)(rounds)
                assert got is not None
                rows.setdefault(label, []).append((got.value, truth[name]))
    for label, values in rows.items():
        value, truth = np.array(values).T
        se = value.std() / np.sqrt(len(value))
        assert abs(value.mean() - truth.mean()) < 3.5 * se, label


def test_model_assisted_estimate_needs_no_calibrated_model():
    """The difference estimator stays unbiased with predictions that are badly off."""
    y, score = _world(3_000, 40)
    rng = np.random.default_rng(41)
    values = []
    for _ in range(300):
        samples, _ = _queue(y, score, rounds=3, capacity=60, rng=rng, adaptive=False)
        wrong = [
            dataclasses.replace(
                r,
                prediction=np.full(len(r.y), 0.5),
                population_prediction=0.5 * r.population,
                population_flagged_prediction=0.5 * r.population_flagged,
            )
            for r in samples
        ]
        got = e.prevalence(wrong)
        assert got is not None
        values.append(got.value)
    se = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values) - y.mean()) < 3.5 * se


def test_nonresponse_adjustment_keeps_prevalence_unbiased():
    y, score = _world(3_000, 30)
    rng = np.random.default_rng(31)
    values, truth = [], float(y.mean())
    for _ in range(300):
        samples, _ = _queue(y, score, rounds=3, capacity=60, rng=rng, adaptive=False)
        resolved = []
        for sample in samples:
            kept = rng.random(len(sample.y)) < 0.6  # the rest is still in the queue
            resolved.append(
                e.RoundSample(
                    y=sample.y[kept],
                    inclusion=sample.inclusion[kept],
                    flagged=sample.flagged[kept],
                    population=sample.population,
                    population_flagged=sample.population_flagged,
                    drawn=len(sample.y),
                )
            )
        got = e.prevalence(resolved)
        assert got is not None
        values.append(got.value)
    se = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values) - truth) < 3.5 * se


def test_round_sample_is_checked():
    with pytest.raises(ValueError, match="inclusion"):
        e.prevalence([e.RoundSample(np.ones(1), np.zeros(1), np.ones(1, bool), 5, 1)])
    with pytest.raises(ValueError, match="drawn"):
        e.prevalence([e.RoundSample(np.ones(2), np.ones(2), np.ones(2, bool), 5, 1, drawn=1)])
