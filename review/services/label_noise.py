"""Second looks at labels that may be wrong, by a fresh analyst — the claim never serves an
item to someone who labelled it — with a disagreement going to a lead as usual. Lead
decisions (gold, adjudication, audit) are not second-guessed. Two reasons to look again:

- the noise check: a model trained without each label (out of fold) confidently
  contradicts it (confident learning), by at least DOUBT_FLOOR;
- an uncertain estimate: a clean label settled by Dawid-Skene alone, less sure than
  UNCERTAIN_BELOW. One label from a merchant's analyst is often a coin toss (a false flag
  is as likely as a true one), and a second blind label settles it cheaply.

A queue that draws active-learning rounds takes second looks up to its `rereview_share` of
a round's capacity at a time, most doubted (or least sure) first; the rest are found again
by the next check. Re-review, don't auto-flip: each ReReview's outcome measures how far
to trust its reason (bench/label_noise.py: together they lift clean-label accuracy from
0.93 to 0.99 at about 1.44 analyst labels per item)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from labeling.models import Queue, ReviewItem
from supportability import validation
from supportability.audit import audit_event, audit_record_many
from supportability.ml.noise import label_issues, out_of_fold_probabilities
from supportability.ml.taxonomy import VIOLATING_DECISIONS
from supportability.services import merchant_features

from ..models import CleanLabel, ReReview

CHECKED_SOURCES = (CleanLabel.Source.AGREEMENT, CleanLabel.Source.ESTIMATE)
# Flags the model doubts less than this were right about half the time in
# bench/label_noise.py; above it, 0.93.
DOUBT_FLOOR = 0.8
UNCERTAIN_BELOW = 0.9
# Re-reviews go to the head of the queue: they are few and they protect the training data.
RE_REVIEW_PRIORITY = 1.0


def noise_check(*, actor: Any = None, limit: int = 200) -> int:
    """Flag and re-queue up to `limit` doubtful labels, most doubtful first. Returns how
    many went back to the queue."""
    clean = list(
        # Merchants whose stored data a model cannot read are left out, as in training.
        CleanLabel.objects.filter(for_training=True)
        .filter(validation.merchant_usable("merchant__"))
        .select_related("merchant", "category")
        .order_by("merchant_id")
    )
    y = np.array([c.decision in VIOLATING_DECISIONS for c in clean], dtype=np.int64)
    if len(clean) < 20 or y.sum() < 5 or (1 - y).sum() < 5:
        return 0  # too few labels of one kind to learn from out of fold
    texts, numeric = merchant_features([c.merchant for c in clean])
    probabilities = out_of_fold_probabilities(texts, numeric, y)
    flagged = label_issues(y, probabilities)
    # How strongly the model disagrees: the probability it gives the other class.
    doubt = probabilities[np.arange(len(y)), 1 - y]
    order = [
        i
        for i in np.argsort(-doubt)
        if flagged[i] and doubt[i] >= DOUBT_FLOOR and clean[i].source in CHECKED_SOURCES
    ]
    doubted = [(clean[i], float(probabilities[i, 1])) for i in order[:limit]]
    return requeue(doubted, actor=actor, reason=ReReview.Reason.MODEL_DOUBT)


def second_looks(*, actor: Any = None, below: float = UNCERTAIN_BELOW, limit: int = 1_000) -> int:
    """Re-queue the clean labels only Dawid-Skene settled, less sure than `below`, least
    sure first, for one more blind label. Returns how many went back to the queue."""
    uncertain = list(
        CleanLabel.objects.filter(source=CleanLabel.Source.ESTIMATE, confidence__lt=below)
        .select_related("category")
        .order_by("confidence", "merchant_id")[:limit]
    )
    pairs = [(c, c.confidence) for c in uncertain]
    return requeue(pairs, actor=actor, reason=ReReview.Reason.UNCERTAIN)


def _room_per_queue() -> dict[int, float]:
    """Second looks a queue may still take: its share of a round's capacity, less the
    re-reviews it holds that are not settled yet (queues without rounds: no cap)."""
    pending = Counter(
        ReReview.objects.filter(outcome=ReReview.Outcome.PENDING).values_list(
            "item__queue_id", flat=True
        )
    )
    room: dict[int, float] = {}
    for queue in Queue.objects.filter(draw_capacity__gt=0):
        room[queue.pk] = math.ceil(queue.rereview_share * queue.draw_capacity) - pending[queue.pk]
    return room


@transaction.atomic
def requeue(
    doubted: list[tuple[CleanLabel, float]],
    *,
    actor: Any,
    reason: str = "model_doubt",
    capped: bool = True,
) -> int:
    """Send each label's item back to the queue for one more label; the float is the
    model's P(violating) for a doubt, the estimate's confidence for an uncertain one.
    `capped`: the queue's `rereview_share` applies (the checks that run again find what
    it left out); a re-review raised by an event (the merchant's text changed, the model
    crossed the threshold) is not found again, so it is never capped."""
    now = timezone.now()
    merchants = [c.merchant_id for c, _ in doubted]
    busy = set(
        ReviewItem.objects.filter(
            merchant_id__in=merchants,
            status__in=[ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED,
                        ReviewItem.Status.ESCALATED, ReviewItem.Status.SIGNOFF],
        ).values_list("merchant_id", flat=True)
    ) | set(
        ReReview.objects.filter(
            merchant_id__in=merchants, outcome=ReReview.Outcome.PENDING
        ).values_list("merchant_id", flat=True)
    )  # fmt: skip
    events = []
    room = _room_per_queue()
    for clean, probability in doubted:
        if clean.merchant_id in busy:
            continue
        item = (
            ReviewItem.objects.select_for_update()
            .filter(merchant_id=clean.merchant_id, status=ReviewItem.Status.DONE, gold=None)
            .order_by("-id")
            .first()
        )
        if item is None or item.leases.filter(outcome="active").exists():
            continue
        if capped and room.get(item.queue_id, 1) <= 0:
            continue  # the queue's share for second looks is taken: the next check
        room[item.queue_id] = room.get(item.queue_id, 1) - 1
        before = {"status": item.status, "required_labels": item.required_labels}
        item.status = ReviewItem.Status.QUEUED
        item.required_labels = item.label_count + 1
        item.priority = RE_REVIEW_PRIORITY
        # Back in the queue now: its SLA counts from here (a second look is not late).
        item.queued_at = now
        item.sla_breached_at = None
        item.save(
            update_fields=[
                "status",
                "required_labels",
                "priority",
                "queued_at",
                "sla_breached_at",
                "updated_at",
            ]
        )
        review = ReReview.objects.create(
            item=item,
            merchant_id=clean.merchant_id,
            decision=clean.decision,
            category_slug=clean.category.slug,
            model_probability=probability,
            reason=reason,
            created_at=now,
        )
        events.append(
            audit_event(
                actor=actor,
                verb=f"re_review.{reason}",
                target=review,
                merchant_id=clean.merchant_id,
                before=before,
                after={
                    "status": item.status,
                    "required_labels": item.required_labels,
                    "label": f"{clean.decision}/{clean.category.slug}",
                    "reason": reason,
                    "score": round(probability, 4),
                },
            )
        )
    audit_record_many(events)
    return len(events)
