from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_score, recall_score

from supportability.ml.evaluation import (
    Evaluation,
    _average_precisions,
    evaluate,
    gate,
)

SEEDS = range(40)


@dataclass(frozen=True)
class Population:
    y: np.ndarray
    scores: np.ndarray
    propensity: np.ndarray  # grows with the score, never 0

    def value(self, statistic: str) -> float:
        flagged = self.scores >= 0.5
        hits = float((self.y & flagged).sum())
        if statistic == "precision":
            return hits / flagged.sum()
        if statistic == "recall":
            return hits / self.y.sum()
        return float(average_precision_score(self.y, self.scores))


@pytest.fixture(scope="module")
def population() -> Population:
    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.random(n) < 0.05
    scores = np.where(y, rng.beta(2.5, 2.0, n), rng.beta(1.0, 6.0, n))
    return Population(y, scores, np.minimum(1.0, 0.01 + 0.6 * scores))


@dataclass(frozen=True)
class Draw:
    weighted: Evaluation
    naive: dict[str, float]


@pytest.fixture(scope="module")
def draws(population: Population) -> list[Draw]:
    """A queue-like biased sample per seed (about 2,150 of 20,000 merchants)."""
    result = []
    for seed in SEEDS:
        draw = np.random.default_rng(1_000 + seed).random(len(population.y))
        taken = draw < population.propensity
        y, scores = population.y[taken], population.scores[taken]
        naive = {
            "precision": float(precision_score(y, scores >= 0.5)),
            "recall": float(recall_score(y, scores >= 0.5)),
            "pr_auc": float(average_precision_score(y, scores)),
        }
        weighted = evaluate(y, scores, population.propensity[taken], seed=seed)
        result.append(Draw(weighted, naive))
    return result


@pytest.mark.parametrize(
    ("statistic", "naive_bias"), [("precision", 0.02), ("recall", 0.10), ("pr_auc", 0.08)]
)
def test_weighted_estimates_are_unbiased_where_naive_ones_are_not(
    population: Population, draws: list[Draw], statistic: str, naive_bias: float
) -> None:
    truth = population.value(statistic)
    weighted = np.mean([getattr(d.weighted, statistic).estimate for d in draws])
    naive = np.mean([d.naive[statistic] for d in draws])
    assert abs(weighted - truth) <= 0.02, (weighted, truth)
    assert naive - truth > naive_bias, (naive, truth)


@pytest.mark.parametrize("statistic", ["precision", "recall", "pr_auc"])
def test_bootstrap_intervals_cover_the_population_value(
    population: Population, draws: list[Draw], statistic: str
) -> None:
    truth = population.value(statistic)
    intervals = [getattr(d.weighted, statistic) for d in draws]
    covered = np.mean([i.low is not None and i.low <= truth <= (i.high or 0) for i in intervals])
    assert covered >= 0.85, covered


def test_equal_propensities_give_the_plain_statistics() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(500) < 0.3
    scores = np.clip(0.4 * y + rng.random(500) * 0.6, 0, 1)
    result = evaluate(y, scores, np.full(500, 0.25), n_boot=50)
    assert result.precision.estimate == pytest.approx(precision_score(y, scores >= 0.5))
    assert result.recall.estimate == pytest.approx(recall_score(y, scores >= 0.5))
    assert result.pr_auc.estimate == pytest.approx(average_precision_score(y, scores))
    assert result.positives == pytest.approx(4 * y.sum())
    for interval in (result.precision, result.recall, result.pr_auc):
        assert interval.low is not None and interval.estimate is not None
        assert interval.low <= interval.estimate <= (interval.high or 0)


def test_vectorised_average_precision_matches_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.2
    scores = np.round(rng.random(300), 2)  # with ties
    weights = rng.random((4, 300)) * (rng.random((4, 300)) < 0.7)
    expected = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(_average_precisions(y, scores, weights), expected, rtol=1e-12)


def test_reliability_and_curve_are_small_and_ordered(draws: list[Draw]) -> None:
    result = draws[0].weighted
    assert 1 < len(result.reliability) <= 10
    assert sum(share for _, _, share in result.reliability) == pytest.approx(1.0)
    assert 1 < len(result.pr_curve) <= 50
    recalls = [r for r, _ in result.pr_curve]
    assert recalls == sorted(recalls)


def test_undefined_statistics_are_none_without_violators() -> None:
    result = evaluate(np.zeros(20, bool), np.linspace(0, 1, 20), np.ones(20), n_boot=20)
    assert result.recall == result.pr_auc
    assert result.recall.estimate is None
    assert result.precision.estimate == 0.0
    assert result.pr_curve == []
    json.dumps(result.as_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("propensity", "message"),
    [(np.array([0.5, 0.0]), "π > 0"), (np.array([0.5, 1.5]), "π > 0"), (np.ones(3), "length")],
)
def test_bad_propensities_are_rejected(propensity: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(np.array([True, False]), np.array([0.9, 0.1]), propensity)


def test_category_recall_counts_flagged_violators_routed_to_their_category() -> None:
    y = np.array([True, True, True, True, False])
    scores = np.array([0.9, 0.9, 0.3, 0.9, 0.1])
    truth = ["gambling", "gambling", "gambling", "weapons", "none"]
    category_scores = {
        "gambling": np.array([0.8, 0.1, 0.2, 0.1, 0.05]),
        "weapons": np.array([0.1, 0.8, 0.1, 0.8, 0.05]),
    }
    result = evaluate(
        y, scores, np.ones(5), true_categories=truth, category_scores=category_scores, n_boot=20
    )
    # row 0 is caught as gambling; row 1 is flagged but routed to weapons; row 2 missed
    assert result.per_category["gambling"].recall.estimate == pytest.approx(1 / 3)
    assert result.per_category["gambling"].n == 3
    assert result.per_category["weapons"].recall.estimate == 1.0


def test_as_dict_round_trips_through_json() -> None:
    result = _reviewed_evaluation()
    data = result.as_dict()
    restored = json.loads(json.dumps(data, allow_nan=False))
    assert restored == data
    assert Evaluation.from_dict(restored) == result
    assert set(restored["per_category"]) == {"counterfeit-goods", "drugs", "gambling", "weapons"}


# --- the promotion gate, on one set of held-out reviewed merchants -------------------

CATEGORIES = ("gambling", "weapons", "drugs", "counterfeit-goods")
CATEGORY_SHARES = (0.45, 0.3, 0.17, 0.08)  # every category with at least 30 held-out labels


@dataclass(frozen=True)
class Reviewed:
    y: np.ndarray
    scores: np.ndarray  # calibrated: y was drawn from them
    propensity: np.ndarray
    categories: list[str]
    category_mix: np.ndarray  # (n, categories): P(category | violating)


def _reviewed() -> Reviewed:
    rng = np.random.default_rng(7)
    population = 20_000
    scores = rng.beta(0.6, 4.0, population)
    propensity = np.minimum(1.0, 0.03 + 0.6 * scores)
    taken = rng.random(population) < propensity
    scores, propensity = scores[taken], propensity[taken]
    n = len(scores)
    y = rng.random(n) < scores
    truth = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARES)
    logits = rng.normal(size=(n, len(CATEGORIES)))
    logits[np.arange(n), truth] += 3.0 * y
    mix = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    categories = [CATEGORIES[t] if v else "none" for t, v in zip(truth, y, strict=True)]
    return Reviewed(y, scores, propensity, categories, mix)


def _reviewed_evaluation(
    scores: np.ndarray | None = None, mix: np.ndarray | None = None
) -> Evaluation:
    data = _reviewed()
    scores = data.scores if scores is None else scores
    mix = data.category_mix if mix is None else mix
    return evaluate(
        data.y,
        scores,
        data.propensity,
        true_categories=data.categories,
        category_scores={c: scores * mix[:, j] for j, c in enumerate(CATEGORIES)},
        n_boot=50,
    )


@pytest.fixture(scope="module")
def champion() -> Evaluation:
    return _reviewed_evaluation()


def test_calibrated_scores_have_a_small_weighted_ece(champion: Evaluation) -> None:
    assert champion.ece < 0.05
    assert 0 < champion.brier < 0.25
    big_bins = [(p, o) for p, o, share in champion.reliability if share > 0.1]
    assert big_bins
    for predicted, observed in big_bins:
        assert observed == pytest.approx(predicted, abs=0.05)


def test_an_equally_good_candidate_passes(champion: Evaluation) -> None:
    data = _reviewed()
    jitter = np.random.default_rng(8).normal(0, 0.003, len(data.scores))
    candidate = _reviewed_evaluation(scores=np.clip(data.scores + jitter, 0, 1))
    result = gate(candidate, champion)
    assert result.passed and result.verdict == "passed", result.reasons
    assert min(c.n for c in champion.per_category.values()) >= 30
    assert result.reasons == [
        f"Passed on {champion.n} labels, every one of 5 categories at least 30."
    ]


def test_a_worse_ranking_candidate_fails_on_pr_auc(champion: Evaluation) -> None:
    data = _reviewed()
    rng = np.random.default_rng(9)
    noisy = data.scores.copy()
    shuffled = rng.random(len(noisy)) < 0.4
    noisy[shuffled] = rng.permutation(noisy[shuffled])
    candidate = _reviewed_evaluation(scores=noisy)
    result = gate(candidate, champion)
    assert not result.passed and result.verdict == "failed"
    assert any(r.startswith("PR-AUC: the candidate's is") for r in result.reasons)


def test_a_miscalibrated_candidate_fails_on_ece(champion: Evaluation) -> None:
    candidate = _reviewed_evaluation(scores=_reviewed().scores ** 0.3)  # same ranking
    result = gate(candidate, champion)
    assert not result.passed and result.verdict == "failed"
    assert [r.split(":")[0] for r in result.reasons[1:]] == ["Calibration"]


def test_a_category_regression_fails_naming_the_category(champion: Evaluation) -> None:
    data = _reviewed()
    mix = data.category_mix.copy()
    gambling = CATEGORIES.index("gambling")
    mix[:, gambling] = np.random.default_rng(10).permutation(mix[:, gambling])
    result = gate(_reviewed_evaluation(mix=mix), champion)
    assert not result.passed and result.verdict == "failed"
    failures = result.reasons[1:]
    assert len(failures) == 1
    assert failures[0].startswith("Category 'gambling': PR-AUC fell from")


def test_without_a_champion_only_calibration_counts(champion: Evaluation) -> None:
    assert gate(champion, None).passed
    miscalibrated = _reviewed_evaluation(scores=_reviewed().scores ** 0.3)
    result = gate(miscalibrated, None)
    assert not result.passed and result.verdict == "failed"
    assert result.reasons[1].startswith("Calibration:")
    assert "No champion" in result.reasons[-1]
