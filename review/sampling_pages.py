"""Reads for the queue page's active-learning part: each queue's mix, its latest rounds
and how far they are worked, and the head of the queue with why each item is there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q

from labeling.models import Draw, Queue, ReviewItem, SamplingRound
from labeling.services import lead_shares

HEAD = 15
ROUNDS = 6


@dataclass(frozen=True)
class HeadItem:
    item: ReviewItem
    why: str  # why it is in the queue, in words
    propensity: float
    strategies: list[str]


@dataclass(frozen=True)
class QueueSampling:
    queue: Queue
    percent: dict[str, float]  # the lead's mix (or the default), in percent of a round
    audit_floor_percent: float
    hide_score_percent: float
    rereview_percent: float
    rounds: Sequence[SamplingRound]  # annotated: labelled = draws with a label (or reused)
    head: list[HeadItem]


def _why(item: ReviewItem) -> HeadItem:
    draws = list(item.draws.all())
    draw = draws[-1] if draws else None
    if draw is None:
        why = item.get_reason_display()
        return HeadItem(item, why, item.propensity, [])
    fired = [s for s in draw.strategies.split(",") if s]
    why = "Drawn by " + " and ".join(fired) + f" in round {draw.sampling_round_id}"
    if draw.flagged:
        why += " · flagged by the model"
    return HeadItem(item, why, draw.propensity, fired)


def queues_sampling() -> list[QueueSampling]:
    """Per queue: the mix, the latest rounds with how many of their draws are labelled,
    and the next items analysts will get, each with the strategies that drew it and π."""
    labelled = Q(draws__reused=True) | Q(draws__item__label_count__gt=0)
    out = []
    for queue in Queue.objects.all():
        rounds = list(
            SamplingRound.objects.filter(queue=queue)
            .select_related("model_version")
            .annotate(labelled=Count("draws", filter=labelled))
            .order_by("-id")[:ROUNDS]
        )
        head = (
            ReviewItem.objects.filter(queue=queue, status=ReviewItem.Status.QUEUED, gold=None)
            .select_related("merchant", "score")
            .prefetch_related(Prefetch("draws", queryset=Draw.objects.order_by("id")))
            .order_by("-priority", "id")[:HEAD]
        )
        out.append(
            QueueSampling(
                queue=queue,
                percent={s: round(100 * v, 1) for s, v in lead_shares(queue).items()},
                audit_floor_percent=round(100 * queue.audit_floor, 1),
                hide_score_percent=round(100 * queue.hide_score_share, 1),
                rereview_percent=round(100 * queue.rereview_share, 1),
                rounds=rounds,
                head=[_why(i) for i in head],
            )
        )
    return out
