"""Keeping the queues fed: draw an active-learning round when a queue runs low, with the
bandit's shares when the lead turned it on. The draw itself is labeling's; the bandit's
evidence (what the merchants it drew turned out to be) comes from clean labels, which live
here."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from labeling import services as labeling
from labeling import strategies
from labeling.models import BanditReward, Draw, Queue, SamplingRound
from labeling.selectors import queued_waiting
from supportability.ml.taxonomy import VIOLATING_DECISIONS

from ..models import CleanLabel

ARMS = ("risk", "uncertainty")
BANDIT_WINDOW = 10  # rounds of evidence the bandit weighs: recent enough to follow drift
LOW_WATER = 0.5  # a queue is topped up when fewer than half a round's capacity is waiting


def bandit_evidence(*, queue: Queue, window: int = BANDIT_WINDOW) -> dict[str, dict[str, int]]:
    """Per arm, the successes and failures among the merchants its own draw chose in the
    queue's last `window` rounds, once their clean label is known. Draws of merchants
    reviewed before (reused) are left out: no review was spent on them, and a merchant the
    risk arm re-draws every round would count again each time. Success: a violation
    confirmed (reward `violations`), or the model's call at the draw proved wrong (reward
    `model_errors`: the label corrects the model, a proxy for what it learns)."""
    rounds = list(queue.rounds.order_by("-id").values_list("id", flat=True)[:window])
    draws = list(
        Draw.objects.filter(sampling_round_id__in=rounds, reused=False).values_list(
            "merchant_id", "strategies", "flagged"
        )
    )
    truth = dict(
        CleanLabel.objects.filter(merchant_id__in=[d[0] for d in draws]).values_list(
            "merchant_id", "decision"
        )
    )
    successes: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for merchant_id, fired, flagged in draws:
        if merchant_id not in truth:
            continue
        violating = truth[merchant_id] in VIOLATING_DECISIONS
        won = violating if queue.bandit_reward == BanditReward.VIOLATIONS else flagged != violating
        for arm in ARMS:
            if arm in fired.split(","):
                (successes if won else failures)[arm] += 1
    return {
        "successes": {a: successes[a] for a in ARMS},
        "failures": {a: failures[a] for a in ARMS},
    }


def queue_draw_now(
    *,
    queue_id: int,
    actor: Any = None,
    rng: np.random.Generator | None = None,
    unless_waiting: float | None = None,
) -> SamplingRound:
    """Draw a round into the queue. With the bandit on, Thompson sampling splits the lead's
    risk + uncertainty capacity by the evidence so far, and the audit stratum keeps at
    least its floor; otherwise the lead's mix is used as it is. `unless_waiting`: see
    labeling's queue_draw (raises DrawNotNeeded)."""
    queue = Queue.objects.get(pk=queue_id)
    rng = rng or np.random.default_rng()
    shares = None
    evidence: dict[str, Any] = {}
    if queue.bandit:
        evidence = bandit_evidence(queue=queue)
        shares = strategies.bandit_shares(
            labeling.lead_shares(queue),
            evidence["successes"],
            evidence["failures"],
            audit_floor=queue.audit_floor,
            rng=rng,
        )
    return labeling.queue_draw(
        queue_id=queue.pk,
        actor=actor,
        shares=shares,
        bandit_evidence=evidence,
        rng=rng,
        unless_waiting=unless_waiting,
    )


def queue_top_up(*, queue_id: int, rng: np.random.Generator | None = None) -> SamplingRound | None:
    """Draw a round if the queue is open, draws sampled work and is running low: fewer
    than half a round's capacity waiting."""
    queue = Queue.objects.get(pk=queue_id)
    if queue.draw_capacity == 0 or queue.paused:
        return None
    low = LOW_WATER * queue.draw_capacity
    if queued_waiting(queue=queue) >= low:
        return None
    try:
        # Checked again under the draw's lock: of two top-ups at once, one draws.
        return queue_draw_now(queue_id=queue.pk, rng=rng, unless_waiting=low)
    except labeling.DrawNotNeeded:
        return None


def queues_top_up() -> int:
    """Beat: top up every open queue that draws sampled work. Returns rounds drawn."""
    drawn = 0
    for queue_id in Queue.objects.filter(draw_capacity__gt=0, paused=False).values_list(
        "id", flat=True
    ):
        try:
            drawn += queue_top_up(queue_id=queue_id) is not None
        except labeling.QueueInvalid:
            continue  # no champion yet: nothing to draw from
    return drawn
