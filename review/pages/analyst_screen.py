"""What the review app adds to the analyst's review screen (labeling cannot import it): the
merchant's earlier final decisions, through labeling.signals.review_screen_extras.

Blind labelling holds: nothing here shows a label of an item still open for labels. A
clean label that counts such a label is left out, adjudications count only on finished
items, and on a gold item (a known answer served to every analyst) nothing is shown at all,
so that a gold item looks like any other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.dispatch import receiver

from labeling.models import Label, Lease, ReviewItem
from labeling.signals import review_screen_extras
from supportability.models import Decision

from ..models import Adjudication, CleanLabel, QaAudit

SHOWN = 5
# Open for labels or for a lead's decision: its labels are still blind.
_OPEN = (
    ReviewItem.Status.QUEUED,
    ReviewItem.Status.LEASED,
    ReviewItem.Status.ESCALATED,
    ReviewItem.Status.SIGNOFF,
)


@dataclass(frozen=True)
class EarlierDecision:
    decision: str  # the Decision value, e.g. "prohibited"
    decision_label: str  # in words
    category_name: str
    rationale: str  # "" when none was written
    decided_at: datetime
    source: str  # who settled it, in words


@dataclass(frozen=True)
class EarlierDecisions:
    rows: list[EarlierDecision] = field(default_factory=list)
    none_reason: str = "No earlier final decision on this merchant."


@receiver(review_screen_extras, dispatch_uid="review.analyst_screen.earlier_decisions")
def earlier_decisions_extra(sender: Any, *, lease: Lease, **_: Any) -> dict[str, Any]:
    return {"earlier_decisions": earlier_decisions(item=lease.item)}


def earlier_decisions(*, item: ReviewItem) -> EarlierDecisions:
    """The merchant's final decisions before this item, newest first: lead adjudications of
    finished items, and the merchant's current clean label (the consensus), unless either
    would show what is still blind. Two or three queries."""
    if item.gold_id is not None:
        return EarlierDecisions()
    rows = [
        EarlierDecision(
            decision=a.decision,
            decision_label=a.get_decision_display(),
            category_name=a.category.name,
            rationale=a.rationale,
            decided_at=a.signoff_at or a.created_at,
            source="Lead adjudication" + (" (signed off by a second lead)" if a.signoff_at else ""),
        )
        for a in Adjudication.objects.filter(
            merchant_id=item.merchant_id,
            status=Adjudication.Status.FINAL,
            item__status=ReviewItem.Status.DONE,
        )
        .exclude(item_id=item.pk)
        .select_related("category")
        .order_by("-created_at")[:SHOWN]
    ]
    consensus = _consensus(item)
    if consensus is not None:
        rows.append(consensus)
    rows.sort(key=lambda row: row.decided_at, reverse=True)
    return EarlierDecisions(rows=rows[:SHOWN])


def _consensus(item: ReviewItem) -> EarlierDecision | None:
    clean = (
        CleanLabel.objects.filter(merchant_id=item.merchant_id)
        .exclude(source__in=[CleanLabel.Source.GOLD, CleanLabel.Source.ADJUDICATION])
        .select_related("category")
        .first()
    )
    if clean is None:
        return None
    ids = [i for i in clean.label_ids if isinstance(i, int)]
    labels = list(
        Label.objects.filter(pk__in=ids)
        .select_related("item")
        .only("pk", "rationale", "decision", "created_at", "item__status")
        .order_by("created_at")
    )
    if len(labels) != len(ids):
        return None  # a label it counted was taken back (undo) since: not a decision
    if any(label.item.status in _OPEN for label in labels):
        return None  # it counts a label of an item still open (for labels or a lead): blind
    rationale = _rationale(clean, labels)
    decided = max((label.created_at for label in labels), default=clean.computed_at)
    return EarlierDecision(
        decision=clean.decision,
        decision_label=Decision(clean.decision).label,
        category_name=clean.category.name,
        rationale=rationale,
        decided_at=decided,
        source=f"{clean.get_source_display()}, confidence {clean.confidence:.0%}",
    )


def _rationale(clean: CleanLabel, labels: list[Label]) -> str:
    if clean.source == CleanLabel.Source.AUDIT:
        audit = (
            QaAudit.objects.filter(label__in=labels, status=QaAudit.Status.OVERTURNED)
            .only("rationale")
            .first()
        )
        if audit is not None and audit.rationale:
            return audit.rationale
    agreeing = [label.rationale for label in labels if label.decision == clean.decision]
    return " · ".join(r for r in agreeing if r)
