"""A merchant's timeline as an analyst may see it (leads see `timeline.merchant_timeline`).

Analysts reach it from the "similar past decisions" panel, so labelling must stay blind:
while any item of the merchant is still open for labels (queued, with an analyst, with the
leads, awaiting sign-off), nobody's label, adjudication or QA verdict on it is shown; a gold
item is always treated as open (its answer is the test). Of closed items only the final
outcome is shown, never who labelled what. The model's scores are hidden too while an open
item is reviewed without them (the automation-bias comparison).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from labeling.models import Label, ReviewItem
from supportability.models import PolicyCategory

from ..models import Adjudication, QaAudit
from .timeline import TimelineEntry, timeline_scores

OPEN_STATUSES = (
    ReviewItem.Status.QUEUED,
    ReviewItem.Status.LEASED,
    ReviewItem.Status.ESCALATED,
    ReviewItem.Status.SIGNOFF,
)


@dataclass(frozen=True)
class BlindTimeline:
    entries: list[TimelineEntry]
    scores_shown: bool
    open_items: int


def _final_outcomes(done: list[int]) -> dict[int, tuple[str, str, str]]:
    """Each closed item's final outcome as (decision, category name, source), by authority:
    the final adjudication, a QA audit that overturned the label, the labels if they agree.
    Three queries, whatever the number of items."""
    outcomes: dict[int, tuple[str, str, str]] = {}
    if not done:
        return outcomes
    names = dict(PolicyCategory.objects.values_list("pk", "name"))
    labels: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for item_id, decision, category_id in Label.objects.filter(item_id__in=done).values_list(
        "item_id", "decision", "category_id"
    ):
        labels[item_id].add((decision, category_id))
    for item_id, answers in labels.items():
        if len(answers) == 1:
            decision, category_id = next(iter(answers))
            outcomes[item_id] = (decision, names.get(category_id, ""), "the labels agreed")
    for item_id, decision, category_id in QaAudit.objects.filter(
        item_id__in=done, status=QaAudit.Status.OVERTURNED
    ).values_list("item_id", "decision", "category_id"):
        outcomes[item_id] = (decision, names.get(category_id, ""), "a lead's QA audit")
    for item_id, decision, category_id in Adjudication.objects.filter(
        item_id__in=done, status=Adjudication.Status.FINAL
    ).values_list("item_id", "decision", "category_id"):
        outcomes[item_id] = (decision, names.get(category_id, ""), "a lead's adjudication")
    return outcomes


def analyst_timeline(*, merchant_id: int) -> BlindTimeline:
    items = list(
        ReviewItem.objects.filter(merchant_id=merchant_id)
        .select_related("queue")
        .only("created_at", "updated_at", "status", "gold", "score_hidden", "queue__name")
        .order_by("created_at", "id")
    )
    still_open = [i for i in items if i.status in OPEN_STATUSES or i.gold_id]
    done = [i for i in items if i not in still_open]
    outcomes = _final_outcomes([i.pk for i in done])
    entries: list[TimelineEntry] = []
    for item in still_open:
        entries.append(
            TimelineEntry(
                at=item.created_at,
                kind="item",
                title="Open for review: labels stay hidden until it is decided",
                details=(("queue", item.queue.name),),
            )
        )
    for item in done:
        entries.append(TimelineEntry(at=item.created_at, kind="item", title="Queued for review"))
        decision, category, source = outcomes.get(item.pk, ("", "", ""))
        entries.append(
            TimelineEntry(
                at=item.updated_at,
                kind="outcome",
                title=f"Decided {decision} · {category}"
                if decision
                else "Closed without one decision: the labels disagreed and no lead decided",
                details=(("decided by", source),) if source else (),
            )
        )
    scores_shown = not any(i.score_hidden for i in still_open)
    if scores_shown:
        entries.extend(timeline_scores(merchant_id))
    entries.sort(key=lambda e: e.at)
    return BlindTimeline(entries, scores_shown, len(still_open))
