from __future__ import annotations

import numpy as np
import pytest
from django.template.loader import render_to_string

from labeling import services as labeling
from labeling.api.serializers import label_payload
from labeling.estimation import Estimate
from labeling.models import Draw, Label, ReviewItem, SamplingRound
from review import services
from review.models import CleanLabel
from review.pages.estimates import (
    Missing,
    _Draw,
    _Round,
    _samples,
    automation_bias,
    estimates_current,
)
from supportability.models import ModelVersion, Score
from tests.factories import (
    ModelVersionFactory,
    ReviewItemFactory,
    label_through_services,
    scored_population,
)
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


def _labelled(analyst, *, hidden: bool, score: float, decision: str, drawn=True) -> None:
    sampling_round = SamplingRound.objects.first() if drawn else None
    item: ReviewItem = ReviewItemFactory.create(
        score_hidden=hidden, score__probability=score, sampling_round=sampling_round
    )
    category = "none" if decision == "supportable" else "pseudo-pharmaceuticals"
    label_through_services(analyst, item, decision, category)


def test_automation_bias_compares_agreement_with_the_model_shown_and_hidden(make_user, world):
    queue, _ = world
    services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(5))
    ReviewItem.objects.update(status=ReviewItem.Status.DONE)  # out of the way
    analyst = make_user("analyst", username="bias")
    for hidden, decisions in (
        (False, ["prohibited", "prohibited", "prohibited", "supportable"]),
        (True, ["prohibited", "supportable", "supportable", "supportable"]),
    ):
        for decision in decisions:
            _labelled(analyst, hidden=hidden, score=0.9, decision=decision)
    _labelled(analyst, hidden=False, score=0.2, decision="supportable")  # agrees: clean
    _labelled(analyst, hidden=False, score=0.9, decision="unsure")  # left out
    # Flagged upstream, never hidden: easy agreement that would flatter the shown group.
    _labelled(analyst, hidden=False, score=0.95, decision="prohibited", drawn=False)
    bias = automation_bias()
    assert (bias.shown.value, bias.shown.n) == (pytest.approx(0.8), 5)
    assert (bias.hidden.value, bias.hidden.n) == (pytest.approx(0.25), 4)
    assert bias.gap.value == pytest.approx(0.55)
    assert bias.gap.low < bias.gap.value < bias.gap.high
    assert Label.objects.filter(score_hidden=True).count() == 4


def test_the_label_response_does_not_give_a_hidden_score_away(make_user):
    analyst = make_user("analyst", username="blind")
    item: ReviewItem = ReviewItemFactory.create(score_hidden=True, score__probability=0.93)
    label = label_through_services(analyst, item, "prohibited", "pseudo-pharmaceuticals")
    payload = label_payload(label)
    assert payload["score_seen"] is None and payload["score_hidden"] is True
    label.refresh_from_db()
    assert label.score_hidden and label.score_seen == pytest.approx(0.93)  # kept for leads


def test_unsettled_draws_are_adjusted_for_within_their_class():
    """Draws of merchants reviewed before settle first; new ones as the round is worked.
    Each class's resolved draws stand for the whole class: π times its resolved share."""
    reused = [_Draw(0.5, 0.9, True, True, "prohibited", "x") for _ in range(4)]
    new = [_Draw(0.2, 0.1, False, False, "supportable", "none") for _ in range(2)]
    new += [_Draw(0.2, 0.1, False, False, None, "") for _ in range(6)]  # not settled yet
    (sample,) = _samples(
        [_Round(1, 100, 10, 20.0, 9.0, reused + new)], lambda d, c: d == "prohibited"
    )
    assert list(sample.inclusion) == pytest.approx([0.5] * 4 + [0.2 * 2 / 8] * 2)
    assert list(sample.y) == [1, 1, 1, 1, 0, 0]
    # A class nobody settled yet would be under-counted: the round waits.
    waiting = [_Draw(0.2, 0.1, False, False, None, "") for _ in range(3)]
    assert _samples([_Round(1, 100, 10, 20.0, 9.0, reused + waiting)], lambda d, c: True) == []


def test_estimates_are_model_assisted_with_what_the_round_knew():
    """The model's score of each draw and its sums over the population at the draw ride
    along; a split (a category among violators) scales them by its share in earlier rounds
    only (the first round's is 0: plain weights)."""
    first = [_Draw(1.0, 0.9, True, False, "prohibited", "gambling")]
    first += [_Draw(1.0, 0.2, False, False, "supportable", "none")]
    second = [_Draw(0.5, 0.8, True, False, "prohibited", "gambling")]
    rounds = [_Round(1, 10, 2, 3.0, 1.5, first), _Round(1, 10, 2, 3.5, 1.6, second)]
    violating = _samples(rounds, lambda d, c: d == "prohibited", assisted=True)
    assert list(violating[0].prediction) == pytest.approx([0.9, 0.2])
    assert violating[1].population_prediction == pytest.approx(3.5)
    gambling = _samples(rounds, lambda d, c: c == "gambling", assisted=True, split=True)
    assert list(gambling[0].prediction) == [0.0, 0.0]  # nothing settled before round 1
    assert list(gambling[1].prediction) == pytest.approx([0.8])  # all earlier violators
    assert gambling[1].population_flagged_prediction == pytest.approx(1.6)
    old = _Round(1, 10, 2, None, None, first)  # drawn before the sums were kept
    (plain,) = _samples([old], lambda d, c: True, assisted=True)
    assert plain.prediction is None and len(plain.y) == 2  # counted, with plain weights


def test_a_split_predicts_by_the_share_among_violators_of_earlier_rounds_only():
    def settled(*outcomes):
        return [_Draw(1.0, 0.5, True, False, d, c) for d, c in outcomes]

    rounds = [
        _Round(1, 10, 2, 3.0, 1.5, settled(("prohibited", "gambling"), ("prohibited", "adult"))),
        _Round(1, 10, 2, 3.0, 1.5, settled(("restricted", "weapons"), ("supportable", "none"))),
        _Round(1, 10, 2, 3.0, 1.5, settled(("prohibited", "gambling"))),
    ]
    gambling = _samples(rounds, lambda d, c: c == "gambling", assisted=True, split=True)
    # Violators settled before each round: none; gambling + adult; those + weapons.
    shares = [0.0, 1 / 2, 1 / 3]
    for sample, share in zip(gambling, shares, strict=True):
        assert sample.population_prediction == pytest.approx(3.0 * share)
        assert list(sample.prediction) == pytest.approx([0.5 * share] * len(sample.y))


# --- every missing figure says why --------------------------------------------------------


def test_recall_without_violators_says_none_was_reviewed(world):
    queue, _ = world
    drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(5))
    settle(drawn, lambda d: False)
    recall = estimates_current().rows[-1]
    assert recall.measure.startswith("Recall")
    reviewed = f"{drawn.drawn:,} merchants reviewed"
    assert recall.ipw.why == f"no violating merchant reviewed yet ({reviewed})"
    assert recall.naive.why == f"no violating merchant reviewed yet ({reviewed})"


def test_precision_and_recall_of_a_new_champion_wait_for_its_own_round(world):
    queue, truth = world
    drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(6))
    settle(drawn, lambda d: truth[d.merchant_id])
    ModelVersion.objects.filter(status="champion").update(status="retired")
    new = ModelVersionFactory(name="demo", version="run2", status="champion")
    estimates = estimates_current()
    precision, recall = estimates.rows[-2], estimates.rows[-1]
    why = f"needs a sampling round drawn with {new}: 1 round so far, all with earlier models"
    assert precision.ipw.why == precision.naive.why == recall.ipw.why == why
    assert estimates.rows[0].ipw.value > 0  # prevalence does not depend on the model


def test_automation_bias_without_labels_says_why():
    bias = automation_bias()
    assert bias.shown.why == "no drawn item labelled with the score shown yet"
    assert bias.hidden.why == "no drawn item labelled with the score hidden yet"
    assert bias.gap.why == "needs labels both ways: 0 shown, 0 hidden"


def test_a_missing_figure_renders_its_reason_and_an_estimate_its_interval():
    missing = render_to_string("review/_estimate.html", {"e": Missing("no flagged merchant")})
    assert "no flagged merchant" in missing and "—" not in missing
    shown = render_to_string("review/_estimate.html", {"e": Estimate(0.25, 0.2, 0.3, 40)})
    assert "0.250" in shown and "[0.200\u20130.300]" in shown
