"""The decision side of the review screen: the category suggestions the number keys pick,
the label the analyst may still take back, the reviewer's keys, and what to tell a tab whose
lease has gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from supportability.models import PolicyCategory
from supportability.validation import explanation_read

from ..models import Label, Lease, ReviewItem
from ..services import ACTIONS, shortcuts_of, undo_window

SUGGESTIONS = 5
# The team's habits are read from this many of its latest labels.
RECENT_LABELS = 1_000
FAVOURITES_KEY = "labeling:team-favourite-categories"
FAVOURITES_SECONDS = 60


@dataclass(frozen=True)
class UndoOffer:
    label_id: int
    merchant_name: str
    decision: str
    seconds_left: int


def _team_favourites(limit: int) -> list[int]:
    """The categories most used in the team's latest labels, most used first. Kept a minute
    in the cache: the review screen asks on every item, the answer moves slowly."""
    found = cache.get(FAVOURITES_KEY)
    if found is None:
        found = _count_favourites(limit)
        cache.set(FAVOURITES_KEY, found, FAVOURITES_SECONDS)
    return list(found)


def _count_favourites(limit: int) -> list[int]:
    # Only labels of finished items: an open item's labels are blind, and on a small team
    # one of them (even the first label of the item on screen) would move the order.
    recent = (
        Label.objects.filter(item__status=ReviewItem.Status.DONE)
        .order_by("-id")
        .values("id")[:RECENT_LABELS]
    )
    return list(
        Label.objects.filter(id__in=recent)
        .exclude(category__slug="none")
        .values("category_id")
        .annotate(n=Count("id"))
        .order_by("-n", "category_id")
        .values_list("category_id", flat=True)[:limit]
    )


def category_suggestions(
    *, lease: Lease | None, score_shown: bool, categories: list[PolicyCategory]
) -> list[PolicyCategory]:
    """The five categories the number keys pick: the model's likeliest for this merchant
    where the analyst is shown the model's view, then the team's most used. On an item that
    hides the score only the team's habits count, so the order leaks nothing of the model."""
    if lease is None:
        return []
    by_slug = {c.slug: c for c in categories if c.slug != "none"}
    by_id = {c.pk: c for c in by_slug.values()}
    picked: list[PolicyCategory] = []

    def add(category: PolicyCategory | None) -> None:
        if category is not None and category not in picked and len(picked) < SUGGESTIONS:
            picked.append(category)

    score = lease.score if score_shown else None
    if score is not None:
        read = explanation_read(score.explanation)
        for slug, _ in sorted(read.categories if read else (), key=lambda c: -c[1]):
            add(by_slug.get(slug))
        add(by_id.get(score.predicted_category_id or 0))
    if len(picked) < SUGGESTIONS:
        for category_id in _team_favourites(SUGGESTIONS + 1):
            add(by_id.get(category_id))
    for category in by_slug.values():  # a new team: the taxonomy's order
        add(category)
    return picked


def undo_offer(*, user: Any) -> UndoOffer | None:
    """The user's latest label while it may still be taken back (one query)."""
    window = undo_window()
    now = timezone.now()
    row = (
        Label.objects.filter(analyst=user, created_at__gt=now - window)
        .order_by("-id")
        .values_list("id", "merchant__name", "decision", "created_at")
        .first()
    )
    if row is None:
        return None
    label_id, name, decision, created_at = row
    left = int((created_at + window - now).total_seconds())
    return UndoOffer(label_id, name, decision, max(1, left))


DECISIONS = (
    ("supportable", "Supportable"),
    ("restricted", "Restricted"),
    ("prohibited", "Prohibited"),
    ("unsure", "Unsure"),
)


def shortcut_context(*, user: Any) -> dict[str, Any]:
    shortcuts = shortcuts_of(user)
    keys = shortcuts.keymap if shortcuts.enabled else {}
    return {
        "decisions": [(value, name, keys.get(value, "")) for value, name in DECISIONS],
        "shortcuts": shortcuts.as_json(),
        "shortcuts_on": shortcuts.enabled,
        # The key shown beside each control: none when single keys are off.
        "keys": keys,
        "key_help": [
            (shortcuts.keymap[action], meaning) for action, (_, meaning) in ACTIONS.items()
        ],
    }


def lease_gone(*, user: Any, lease_token: Any, fallback: str) -> dict[str, str]:
    """What a tab whose lease has ended should say, in words: what happened, and what to
    do. Usually a second tab: the analyst labelled, skipped or moved on in another one."""
    lease = (
        Lease.objects.filter(token=lease_token).select_related("item__merchant").first()
        if lease_token
        else None
    )
    held = (
        Lease.objects.filter(
            holder=user, outcome=Lease.Outcome.ACTIVE, expires_at__gt=timezone.now()
        )
        .select_related("item__merchant")
        .first()
    )
    if lease is None or lease.holder_id != user.pk:
        what = fallback
    else:
        name = lease.item.merchant.name
        what = {
            Lease.Outcome.LABELLED: f"You labelled {name} in another tab or window.",
            Lease.Outcome.RELEASED: f"You skipped {name} in another tab or window.",
            Lease.Outcome.EXPIRED: f"Your lease on {name} ran out, or you undid a label elsewhere.",
            Lease.Outcome.ACTIVE: f"Your lease on {name} has expired.",
        }[Lease.Outcome(lease.outcome)]
    if held is not None and (lease is None or held.pk != lease.pk):
        todo = (
            f"You are now on {held.item.merchant.name}: continue in the tab that shows it,"
            " or open it here."
        )
    else:
        todo = "Nothing you type here will be saved: open your next merchant here."
    return {"what": what, "todo": todo}
