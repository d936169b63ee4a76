"""The noise check: a model trained without each label (out of fold) flags the labels it
confidently contradicts (confident learning); their items go back to the queue for a fresh
analyst — the claim never serves an item to someone who labelled it — and a disagreement
then goes to a lead as usual. Lead decisions (gold, adjudication, audit) are not
second-guessed. Re-review, don't auto-flip: the measured precision decides how far to
trust the check (ReReview outcomes)."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from labeling.models import ReviewItem
from supportability.audit import audit_event, audit_record_many
from supportability.ml.noise import label_issues, out_of_fold_probabilities
from supportability.ml.taxonomy import VIOLATING_DECISIONS
from supportability.services import merchant_features

from ..models import CleanLabel, ReReview

CHECKED_SOURCES = (CleanLabel.Source.AGREEMENT, CleanLabel.Source.ESTIMATE)
# Re-reviews go to the head of the queue: they are few and they protect the training data.
RE_REVIEW_PRIORITY = 1.0


def noise_check(*, actor: Any = None, limit: int = 200) -> int:
    """Flag and re-queue up to `limit` doubtful labels, most doubtful first. Returns how
    many went back to the queue."""
    clean = list(
        CleanLabel.objects.filter(for_training=True)
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
    order = [i for i in np.argsort(-doubt) if flagged[i] and clean[i].source in CHECKED_SOURCES]
    return _requeue([(clean[i], float(probabilities[i, 1])) for i in order[:limit]], actor=actor)


@transaction.atomic
def _requeue(doubted: list[tuple[CleanLabel, float]], *, actor: Any) -> int:
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
        before = {"status": item.status, "required_labels": item.required_labels}
        item.status = ReviewItem.Status.QUEUED
        item.required_labels = item.label_count + 1
        item.priority = RE_REVIEW_PRIORITY
        item.save(update_fields=["status", "required_labels", "priority", "updated_at"])
        review = ReReview.objects.create(
            item=item,
            merchant_id=clean.merchant_id,
            decision=clean.decision,
            category_slug=clean.category.slug,
            model_probability=probability,
            created_at=now,
        )
        events.append(
            audit_event(
                actor=actor,
                verb="noise_check.re_review",
                target=review,
                merchant_id=clean.merchant_id,
                before=before,
                after={
                    "status": item.status,
                    "required_labels": item.required_labels,
                    "label": f"{clean.decision}/{clean.category.slug}",
                    "model_probability": round(probability, 4),
                },
            )
        )
    audit_record_many(events)
    return len(events)
