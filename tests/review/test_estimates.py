from __future__ import annotations

import numpy as np
import pytest

from labeling import services as labeling
from labeling.models import Draw, ReviewItem
from review import services
from review.estimates import automation_bias, estimates_current
from review.models import CleanLabel
from supportability.models import Score
from tests.factories import ReviewItemFactory, label_through_services, scored_population
from tests.review.test_sampling import settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """600 merchants whose scores are calibrated: each violates with its probability."""
    scored_population(600, seed=9)
    rng = np.random.default_rng(9)
    truth = {
        m: rng.random() < p for m, p in Score.objects.values_list("merchant_id", "probability")
    }
    queue = labeling.queue_default()
    queue.draw_capacity = 150
    queue.save()
    return queue, truth


def test_weighted_prevalence_covers_the_truth_where_the_naive_share_does_not(world):
    queue, truth = world
    for seed in range(2):
        drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(seed))
        settle(drawn, lambda d: truth[d.merchant_id])
    estimates = estimates_current()
    assert estimates.rounds == 2 and estimates.resolved == estimates.drawn > 150
    assert estimates.population == 600
    true_prevalence = np.mean(list(truth.values()))
    violating = estimates.rows[0]
    assert violating.measure.startswith("Violating")
    assert violating.ipw.low <= true_prevalence <= violating.ipw.high
    # The queue over-samples what the model flags: the naive share is far above the truth.
    assert violating.naive.low > true_prevalence
    kinds = {row.kind for row in estimates.rows}
    assert kinds == {"decision", "category", "model"}
    precision, recall = estimates.rows[-2], estimates.rows[-1]
    assert precision.measure.startswith("Precision") and recall.measure.startswith("Recall")
    for row in (precision, recall):
        assert 0 <= row.ipw.low <= row.ipw.value <= row.ipw.high <= 1


def test_draws_without_a_clean_label_are_not_counted_as_resolved(world):
    queue, truth = world
    drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(3))
    half = set(drawn.draws.values_list("merchant_id", flat=True)[: drawn.drawn // 2])
    settle(drawn, lambda d: truth[d.merchant_id])
    CleanLabel.objects.exclude(merchant_id__in=half).delete()
    estimates = estimates_current()
    assert estimates.drawn == drawn.drawn and estimates.resolved == len(half)
    assert estimates.rows[0].ipw.n == len(half)


def test_no_estimates_before_anything_is_settled(world):
    queue, _ = world
    services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(4))
    estimates = estimates_current()
    assert estimates.rows == [] and estimates.drawn == Draw.objects.count() > 0


def _labelled(analyst, *, hidden: bool, score: float, decision: str) -> None:
    item: ReviewItem = ReviewItemFactory.create(score_hidden=hidden, score__probability=score)
    category = "none" if decision == "supportable" else "pseudo-pharmaceuticals"
    label_through_services(analyst, item, decision, category)


def test_automation_bias_compares_agreement_with_the_model_shown_and_hidden(make_user):
    analyst = make_user("analyst", username="bias")
    for hidden, decisions in (
        (False, ["prohibited", "prohibited", "prohibited", "supportable"]),
        (True, ["prohibited", "supportable", "supportable", "supportable"]),
    ):
        for decision in decisions:
            _labelled(analyst, hidden=hidden, score=0.9, decision=decision)
    _labelled(analyst, hidden=False, score=0.2, decision="supportable")  # agrees: clean
    _labelled(analyst, hidden=False, score=0.9, decision="unsure")  # left out
    bias = automation_bias()
    assert (bias.shown.value, bias.shown.n) == (pytest.approx(0.8), 5)
    assert (bias.hidden.value, bias.hidden.n) == (pytest.approx(0.25), 4)
    assert bias.gap.value == pytest.approx(0.55)
    assert bias.gap.low < bias.gap.value < bias.gap.high
    assert ReviewItem.objects.filter(score_hidden=True).count() == 4
