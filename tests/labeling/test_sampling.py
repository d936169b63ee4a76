from __future__ import annotations

import numpy as np
import pytest
from django.db import transaction

from labeling import services
from labeling.models import Draw, Queue, ReviewItem, SamplingRound
from labeling.services.sampling import REASON_OF, within_round_order
from labeling.strategies import STRATEGIES
from supportability.models import AuditEvent, ModelVersion, Score
from tests.factories import ModelVersionFactory, ReviewItemFactory, scored_population

pytestmark = pytest.mark.django_db


@pytest.fixture
def champion():
    return scored_population(400, seed=1)


@pytest.fixture
def queue(champion):
    queue = services.queue_default()
    queue.draw_capacity = 60
    queue.save()
    return queue


def _draw(queue, seed=0, **kwargs):
    return services.queue_draw(queue_id=queue.pk, rng=np.random.default_rng(seed), **kwargs)


def test_a_round_records_each_draw_with_its_probability_and_strategies(queue, lead):
    drawn = _draw(queue, actor=lead)
    draws = list(Draw.objects.filter(sampling_round=drawn))
    assert len(draws) == drawn.drawn > 0
    assert drawn.population == 400 and drawn.capacity == 60
    for draw in draws:
        fired = draw.strategies.split(",")
        assert fired and set(fired) <= set(STRATEGIES)
        assert 0 < draw.propensity <= 1
        assert draw.flagged == (draw.probability >= services.FLAG_THRESHOLD)
    items = ReviewItem.objects.filter(sampling_round=drawn)
    assert items.count() == drawn.new_items == drawn.drawn  # nothing reviewed before
    for item in items.prefetch_related("draws"):
        (draw,) = item.draws.all()
        assert item.propensity == pytest.approx(draw.propensity)
        assert item.reason == REASON_OF[draw.strategies.split(",")[0]]
        assert item.score_id == draw.score_id
    event = AuditEvent.objects.get(verb="queue.draw")
    assert event.actor == lead and event.after["drawn"] == drawn.drawn


def test_each_round_spends_about_its_capacity(queue):
    drawn = _draw(queue)
    # Strata draw independently, so a merchant two of them pick counts once: the expected
    # number of new reviews is at most the capacity, and close to it.
    assert 0.75 * 60 <= drawn.expected_reviews <= 60
    sizes = [_rolled_back(lambda seed=seed: _draw(queue, seed=seed).new_items) for seed in range(6)]
    assert 0.6 * 60 <= np.mean(sizes) <= 1.2 * 60


class _Rollback(Exception):
    pass


def _rolled_back(work):
    """Run `work` and undo what it wrote, returning its result."""
    try:
        with transaction.atomic():
            raise _Rollback(work())
    except _Rollback as done:
        return done.args[0]


def test_merchants_already_reviewed_are_reused_not_queued_again(queue):
    reviewed = list(Score.objects.order_by("-probability").values_list("merchant_id", flat=True))
    for merchant_id in reviewed[:40]:  # the riskiest merchants were reviewed already
        ReviewItemFactory(
            merchant_id=merchant_id, score=None, status=ReviewItem.Status.DONE, priority=0
        )
    drawn = _draw(queue)
    reused = Draw.objects.filter(sampling_round=drawn, reused=True)
    assert reused.exists()
    assert set(reused.values_list("merchant_id", flat=True)) <= set(reviewed[:40])
    assert all(d.item_id is not None for d in reused)  # linked to the earlier review
    assert not ReviewItem.objects.filter(sampling_round=drawn, merchant_id__in=reviewed[:40])
    assert drawn.new_items == drawn.drawn - reused.count()


def test_every_merchant_can_be_drawn_while_the_audit_share_is_above_zero(queue):
    queue.mix = {"risk": 0.9, "uncertainty": 0.0, "diversity": 0.0, "audit": 0.1}
    queue.save()
    _draw(queue)
    assert Draw.objects.filter(probability__lt=0.05).exists()  # safe-looking ones turn up
    # Every merchant's chance is at least the audit stratum's uniform one: 10% of 60 / 400.
    audit_pi = 0.1 * 60 / 400
    assert min(Draw.objects.values_list("propensity", flat=True)) >= audit_pi * 0.999


def test_a_later_round_queues_after_the_earlier_one(queue):
    first = _draw(queue, seed=1)
    second = _draw(queue, seed=2)
    lowest_first = min(
        ReviewItem.objects.filter(sampling_round=first).values_list("priority", flat=True)
    )
    highest_second = max(
        ReviewItem.objects.filter(sampling_round=second).values_list("priority", flat=True)
    )
    assert lowest_first > highest_second


def test_within_a_round_the_order_is_random_and_near_duplicates_spread():
    groups = np.array([7, 7, 7, 3, 4, 5])  # three look-alikes and three singletons
    firsts, cluster_top_two = [], 0
    for seed in range(200):
        order = within_round_order(groups, rng=np.random.default_rng(seed))
        assert np.all((order >= 0) & (order < 1))
        cluster = np.sort(order[:3])[::-1]
        assert cluster[1] < 0.5 and cluster[2] < 0.25  # each further look-alike lower
        firsts.append(int(np.argmax(order)))
        cluster_top_two += set(np.argsort(-order)[:2]) <= {0, 1, 2}
    # Any merchant can head the round; look-alikes rarely take the first two places (one
    # time in five, undiscounted).
    assert set(firsts) == set(range(6))
    assert cluster_top_two / 200 < 0.1


def test_hidden_score_share_is_drawn_per_item(queue):
    queue.hide_score_share = 1.0
    queue.save()
    drawn = _draw(queue, seed=3)
    assert not ReviewItem.objects.filter(sampling_round=drawn, score_hidden=False).exists()
    queue.hide_score_share = 0.0
    queue.save()
    drawn = _draw(queue, seed=4)
    assert not ReviewItem.objects.filter(sampling_round=drawn, score_hidden=True).exists()
    queue.hide_score_share = 0.5
    queue.save()
    drawn = _draw(queue, seed=5)
    hidden = ReviewItem.objects.filter(sampling_round=drawn, score_hidden=True).count()
    assert 0.25 * drawn.new_items < hidden < 0.75 * drawn.new_items  # a coin per item


def test_draw_without_a_champion_says_so(queue):
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    with pytest.raises(services.QueueInvalid) as error:
        _draw(queue)
    assert error.value.field == "model"
    assert not SamplingRound.objects.exists()


def test_a_queue_without_capacity_draws_nothing(champion):
    queue = Queue.objects.create(slug="sanctions", name="Sanctions")
    with pytest.raises(services.QueueInvalid) as error:
        _draw(queue)
    assert error.value.field == "draw_capacity"


def test_a_new_model_keeps_the_rounds_order_and_reranks_the_rest(queue, champion):
    drawn = _draw(queue)
    upstream = ReviewItemFactory(priority=0.2)
    before = dict(ReviewItem.objects.filter(sampling_round=drawn).values_list("id", "priority"))
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    new_model = ModelVersionFactory(name="own", status=ModelVersion.Status.CHAMPION)
    Score.objects.bulk_create(
        Score(merchant_id=m, model_version=new_model, probability=0.77, explanation={})
        for m in ReviewItem.objects.values_list("merchant_id", flat=True)
    )
    services.queue_reprioritise(model_version=new_model)
    after = ReviewItem.objects.filter(sampling_round=drawn).select_related("score")
    assert {i.pk: i.priority for i in after} == before
    assert {i.score.model_version_id for i in after} == {new_model.pk}
    upstream.refresh_from_db()
    assert upstream.priority == pytest.approx(0.77)


@pytest.mark.parametrize(
    ("mix", "field"),
    [
        ({"risk": 0.5, "uncertainty": 0.5, "diversity": 0.0, "audit": 0.0}, "mix.audit"),
        ({"risk": 0.5, "audit": 0.1, "hunch": 0.4}, "mix.hunch"),
        ({"risk": 0.5, "uncertainty": 0.2, "diversity": 0.0, "audit": 0.1}, "mix"),
        ({"risk": -0.1, "uncertainty": 1.0, "diversity": 0.0, "audit": 0.1}, "mix.risk"),
    ],
)
def test_a_bad_mix_is_refused_naming_the_share(queue, lead, mix, field):
    with pytest.raises(services.QueueInvalid) as error:
        services.queue_update(actor=lead, queue_id=queue.pk, mix=mix)
    assert error.value.field == field
    queue.refresh_from_db()
    assert queue.mix == {}


def test_the_lead_sets_the_mix_and_the_next_round_uses_it(queue, lead):
    mix = {"risk": 0.2, "uncertainty": 0.5, "diversity": 0.1, "audit": 0.2}
    services.queue_update(actor=lead, queue_id=queue.pk, mix=mix, hide_score_share=0.25)
    queue.refresh_from_db()
    assert queue.mix == pytest.approx(mix) and queue.hide_score_share == 0.25
    assert AuditEvent.objects.filter(verb="queue.update", after__mix=queue.mix).exists()
    drawn = _draw(queue)
    assert drawn.shares == pytest.approx(mix) and not drawn.bandit


def test_merchants_only_the_audit_stratum_drew_need_two_labels(queue):
    drawn = _draw(queue, seed=6)
    audit_only = ReviewItem.objects.filter(sampling_round=drawn, draws__strategies="audit")
    assert audit_only.exists()
    assert set(audit_only.values_list("required_labels", flat=True)) == {queue.overlap_k}


def test_a_round_keeps_the_models_score_sums_over_the_population(queue, champion):
    drawn = _draw(queue)
    scores = list(
        Score.objects.filter(model_version=champion).values_list("probability", flat=True)
    )
    assert drawn.score_sum == pytest.approx(sum(scores))
    flagged = [p for p in scores if p >= services.FLAG_THRESHOLD]
    assert drawn.flagged_score_sum == pytest.approx(sum(flagged))
    assert drawn.population_flagged == len(flagged)


def test_the_population_reads_the_models_categories_and_ignores_odd_ones(champion):
    from labeling.services.sampling import population_load

    first, second, third = Score.objects.filter(model_version=champion).order_by("merchant_id")[:3]
    Score.objects.filter(pk=first.pk).update(
        explanation={"categories": [["gambling", 0.4], ["adult-content", 0.35]]}
    )
    Score.objects.filter(pk=second.pk).update(explanation={"categories": {"a": 0.6}})
    Score.objects.filter(pk=third.pk).update(explanation={"categories": [["a", "x"]]})
    population = population_load(champion)
    assert list(population.categories[0]) == pytest.approx([0.4, 0.35, 0.0])
    assert not population.categories[1:3].any()
