"""Re-reviews raised by events, not by the periodic checks: a decided merchant is looked at
again by a fresh analyst when

- its own words changed materially (its description or website text; the intake sends the
  merchants, supportability.ml.text_change decides what is material), or
- the model's opinion of it crossed the policy threshold (labeling's FLAG_THRESHOLD)
  between the champion it was decided under and a newly promoted one, in the direction
  that now contradicts the decision: a merchant decided supportable that the new champion
  flags, or a violator it no longer flags.

Both reuse the noise check's second look (label_noise.requeue): the latest done item goes
back to the queue for one more blind label, at the head of the queue, with a ReReview that
records why and, once settled, whether the decision stood. Neither is capped by the
queue's share for second looks: an event is not found again by a later check. Merchants
with an open item or a pending re-review are left as they are (one look at a time).
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery

from labeling.services import FLAG_THRESHOLD
from supportability.ml.taxonomy import VIOLATING_DECISIONS
from supportability.models import ModelVersion, Score

from ..models import CleanLabel, ReReview
from .label_noise import requeue


def _latest_scores(model_version_id: int, merchant_ids: Any) -> dict[int, float]:
    """Each merchant's latest score by the model (oldest first: the last one stays)."""
    return dict(
        Score.objects.filter(model_version_id=model_version_id, merchant_id__in=merchant_ids)
        .order_by("merchant_id", "id")
        .values_list("merchant_id", "probability")
    )


def rereview_text_changed(*, merchant_ids: list[int], actor: Any = None) -> int:
    """Second looks at the decided merchants among `merchant_ids` (whose text changed
    materially). The probability kept with each is the champion's latest score of it, or
    the decision's own confidence where the champion has none. Returns how many went."""
    clean = list(
        CleanLabel.objects.filter(merchant_id__in=merchant_ids)
        .select_related("category")
        .order_by("merchant_id")
    )
    if not clean:
        return 0
    champion = ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).first()
    scores = _latest_scores(champion.pk, [c.merchant_id for c in clean]) if champion else {}
    pairs = [(c, scores.get(c.merchant_id, c.confidence)) for c in clean]
    return requeue(pairs, actor=actor, reason=ReReview.Reason.TEXT_CHANGED, capped=False)


def rereview_crossed(*, before_id: int, after_id: int, actor: Any = None) -> int:
    """Second looks at the decided merchants whose score crossed the threshold, from model
    `before_id` to model `after_id`, towards contradicting their decision."""
    latest = Score.objects.filter(merchant_id=OuterRef("merchant_id")).order_by("-id")
    clean = (
        CleanLabel.objects.annotate(
            before=Subquery(latest.filter(model_version_id=before_id).values("probability")[:1]),
            after=Subquery(latest.filter(model_version_id=after_id).values("probability")[:1]),
        )
        .filter(before__isnull=False, after__isnull=False)
        .select_related("category")
        .order_by("merchant_id")
    )
    pairs: list[tuple[CleanLabel, float]] = []
    for c in clean.iterator(chunk_size=2_000):
        violating = c.decision in VIOLATING_DECISIONS
        flagged_before, flagged_after = c.before >= FLAG_THRESHOLD, c.after >= FLAG_THRESHOLD
        if flagged_before != flagged_after and flagged_after != violating:
            pairs.append((c, float(c.after)))
    return requeue(pairs, actor=actor, reason=ReReview.Reason.CROSSED, capped=False)
