"""Reads for the queue page's active-learning part: each queue's mix, its latest rounds
and how far they are worked, and the head of the queue with why each item is there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q

from labeling.models import Queue, ReviewItem, SamplingRound
from labeling.services import lead_shares

from ..models import ReReview

HEAD = 15
ROUNDS = 6
UNITS = (("days", 24 * 60), ("hours", 60), ("minutes", 1))


@dataclass(frozen=True)
class Sla:
    """A queue's SLA target in the largest unit that holds it exactly."""

    minutes: int
    value: int
    unit: str  # "days", "hours" or "minutes"

    @property
    def words(self) -> str:
        return f"{self.value} {self.unit[:-1] if self.value == 1 else self.unit}"


def sla_of(minutes: int) -> Sla:
    for unit, size in UNITS:
        if minutes >= size and minutes % size == 0:
            return Sla(minutes, minutes // size, unit)
    return Sla(minutes, minutes, "minutes")


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
    rounds: Sequence[SamplingRound]  # annotated: settled = draws with a clean label
    head: list[HeadItem]


def _why(item: ReviewItem, second_looks: dict[int, str]) -> HeadItem:
    """Why the item is queued: the draw of the round that queued it (a merchant drawn again
    later keeps its first reason), a second look the noise check asked for, or its reason
    (flagged upstream, a gold item...)."""
    if item.pk in second_looks:
        return HeadItem(item, f"Second look: {second_looks[item.pk]}", item.propensity, [])
    draw = next(
        (d for d in item.draws.all() if d.sampling_round_id == item.sampling_round_id), None
    )
    if draw is None:
        return HeadItem(item, item.get_reason_display(), item.propensity, [])
    fired = [s for s in draw.strategies.split(",") if s]
    why = "Drawn by " + " and ".join(fired) + f" in round {draw.sampling_round_id}"
    if draw.flagged:
        why += " · flagged by the model"
    return HeadItem(item, why, draw.propensity, fired)


def queues_sampling() -> list[QueueSampling]:
    """Per queue: the mix, the latest rounds with how many of their draws are settled,
    and the next items analysts will get, each with the strategies that drew it and π."""
    settled = Q(draws__merchant__clean_label__isnull=False)
    out = []
    for queue in Queue.objects.all():
        latest = list(queue.rounds.order_by("-id").values_list("id", flat=True)[:ROUNDS])
        rounds = list(
            SamplingRound.objects.filter(id__in=latest)
            .select_related("model_version")
            .annotate(settled=Count("draws", filter=settled))
            .order_by("-id")
        )
        head = list(
            ReviewItem.objects.filter(queue=queue, status=ReviewItem.Status.QUEUED, gold=None)
            .select_related("merchant", "score")
            .prefetch_related("draws")
            .order_by("-priority", "id")[:HEAD]
        )
        second_looks = {
            r.item_id: r.get_reason_display()
            for r in ReReview.objects.filter(
                item__in=head, outcome=ReReview.Outcome.PENDING
            ).order_by("id")
        }
        out.append(
            QueueSampling(
                queue=queue,
                percent={s: round(100 * v, 1) for s, v in lead_shares(queue).items()},
                audit_floor_percent=round(100 * queue.audit_floor, 1),
                hide_score_percent=round(100 * queue.hide_score_share, 1),
                rereview_percent=round(100 * queue.rereview_share, 1),
                rounds=rounds,
                head=[_why(i, second_looks) for i in head],
            )
        )
    return out
