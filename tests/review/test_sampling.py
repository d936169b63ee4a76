from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from labeling import services as labeling
from labeling.models import BanditReward, Draw, Queue, SamplingRound
from review import services
from review.models import CleanLabel
from supportability.models import ModelVersion, PolicyCategory
from tests.factories import scored_population

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue():
    scored_population(300, seed=5)
    queue = labeling.queue_default()
    queue.draw_capacity = 40
    queue.save()
    return queue


def settle(sampling_round: SamplingRound, violating: Callable[[Draw], bool]) -> None:
    """Clean labels for everything a round drew, as if reviewed and settled."""
    prohibited = PolicyCategory.objects.get(slug="pseudo-pharmaceuticals")
    none = PolicyCategory.objects.get(slug="none")
    CleanLabel.objects.bulk_create(
        [
            CleanLabel(
                merchant_id=d.merchant_id,
                decision="prohibited" if violating(d) else "supportable",
                category=prohibited if violating(d) else none,
                source=CleanLabel.Source.AGREEMENT,
                confidence=1.0,
            )
            for d in sampling_round.draws.exclude(
                merchant_id__in=CleanLabel.objects.values("merchant_id")
            )
        ]
    )


def test_bandit_evidence_counts_each_arm_by_the_draws_it_chose(queue):
    drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(0))
    settle(drawn, lambda d: d.probability > 0.3)
    evidence = services.bandit_evidence(queue=queue)
    for arm in ("risk", "uncertainty"):
        chose = [d for d in drawn.draws.filter(reused=False) if arm in d.strategies.split(",")]
        assert evidence["successes"][arm] == sum(d.probability > 0.3 for d in chose)
        assert evidence["failures"][arm] == sum(d.probability <= 0.3 for d in chose)


def test_merchants_drawn_again_add_no_evidence(queue):
    first = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(0))
    settle(first, lambda d: True)
    before = services.bandit_evidence(queue=queue)
    again = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(1))
    assert again.draws.filter(reused=True).exists()  # the riskiest are drawn again
    assert services.bandit_evidence(queue=queue) == before  # nothing new was reviewed


def _bandit_rounds(queue, violating, rounds=4):
    queue.bandit = True
    queue.save()
    rng = np.random.default_rng(1)
    for _ in range(rounds):
        drawn = services.queue_draw_now(queue_id=queue.pk, rng=rng)
        settle(drawn, violating)
    return drawn


def test_the_bandit_moves_capacity_to_the_arm_that_confirms_violations(queue):
    lead = labeling.lead_shares(queue)
    pool = lead["risk"] + lead["uncertainty"]
    # Rigged: only what the risk stratum draws turns out violating.
    last = _bandit_rounds(queue, lambda d: "risk" in d.strategies)
    assert last.bandit and last.bandit_evidence["successes"]["risk"] > 0
    assert last.shares["risk"] > 0.8 * pool
    assert last.shares["audit"] >= queue.audit_floor


def test_the_bandit_follows_the_reward_the_lead_picked(queue):
    queue.bandit_reward = BanditReward.MODEL_ERRORS
    lead = labeling.lead_shares(queue)
    pool = lead["risk"] + lead["uncertainty"]
    # Rigged: what uncertainty draws proves the model wrong (flagged but clean, or the
    # reverse); what risk draws proves it right.
    last = _bandit_rounds(
        queue, lambda d: d.flagged != ("uncertainty" in d.strategies and "risk" not in d.strategies)
    )
    assert last.shares["uncertainty"] > 0.8 * pool


def test_the_audit_floor_holds_under_the_bandit(queue):
    queue.mix = {"risk": 0.6, "uncertainty": 0.38, "diversity": 0.0, "audit": 0.02}
    queue.audit_floor = 0.15
    last = _bandit_rounds(queue, lambda d: "risk" in d.strategies, rounds=2)
    assert last.shares["audit"] == pytest.approx(0.15)
    assert sum(last.shares.values()) == pytest.approx(1.0)


def test_top_up_draws_only_when_the_queue_runs_low(queue):
    first = services.queue_top_up(queue_id=queue.pk, rng=np.random.default_rng(2))
    assert first is not None and first.new_items > 20
    assert services.queue_top_up(queue_id=queue.pk) is None  # plenty waiting
    queue.items.filter(sampling_round=first).update(status="done")
    Queue.objects.filter(pk=queue.pk).update(paused=True)
    assert services.queue_top_up(queue_id=queue.pk) is None  # paused
    Queue.objects.filter(pk=queue.pk).update(paused=False)
    assert services.queue_top_up(queue_id=queue.pk) is not None


def test_the_beat_skips_queues_without_a_champion(queue):
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    assert services.queues_top_up() == 0
    ModelVersion.objects.update(status=ModelVersion.Status.CHAMPION)
    assert services.queues_top_up() == 1
    assert SamplingRound.objects.count() == 1
