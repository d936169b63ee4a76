"""The review side of the similar-decisions index: which merchants are decided, what their
decision said, and the refresh the retraining chain calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labeling.models import GoldAnswer, ReviewItem
from review.models import CleanLabel
from review.services import clean_labels_refresh
from review.services.similar_index import decided_merchants, similar_index_refresh
from supportability.models import AuditEvent, Merchant, PolicyCategory, SimilarityIndex
from supportability.services import similarity
from supportability.services.similarity import similar_decisions
from tests.factories import (
    MerchantFactory,
    ReviewItemFactory,
    UserFactory,
    clean_label,
    label_through_services,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(similarity, "_OPENED", {})
    return tmp_path


def agreed(merchant: Merchant, decision: str, category: str, rationale: str) -> None:
    """Two analysts label the merchant alike, through the queue's services: its item is done."""
    item = ReviewItemFactory.create(merchant=merchant, required_labels=2)
    for analyst in (UserFactory.create(), UserFactory.create()):
        label_through_services(analyst, item, decision, category, rationale)
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.DONE


def casino(name: str = "Lucky Spin Casino") -> Merchant:
    return MerchantFactory.create(
        name=name,
        description="Online slots, roulette and sports betting for real money.",
        website_text="Bet now and win big.",
    )


def bakery(name: str = "Bright Bakery") -> Merchant:
    return MerchantFactory.create(
        name=name,
        description="Fresh sourdough bread, pastries and birthday cakes.",
        website_text="Order a cake for pick-up.",
    )


def test_an_agreed_decision_is_the_nearest_to_a_lookalike_with_its_words() -> None:
    decided_casino = casino()
    agreed(decided_casino, "restricted", "gambling", "Real-money betting, no licence shown.")
    agreed(bakery(), "supportable", "none", "A bakery.")
    clean_labels_refresh()
    similar_index_refresh()

    panel = similar_decisions(merchant=casino("Lucky Spin Casino Two"))

    first = panel.neighbours[0]
    assert first.merchant_id == decided_casino.pk
    assert (first.decision, first.category_name) == ("restricted", "Gambling")
    assert first.rationale == "Real-money betting, no licence shown."


def test_a_merchant_with_an_open_item_is_left_out() -> None:
    reopened = casino()
    clean_label(reopened, decision="restricted", category="gambling")
    ReviewItemFactory.create(merchant=reopened)  # queued again
    settled = bakery()
    clean_label(settled, decision="supportable", category="none")

    ids = [row.merchant_id for row in decided_merchants()]

    assert ids == [settled.pk]


def test_a_merchant_without_a_clean_label_is_left_out() -> None:
    casino()
    settled = bakery()
    clean_label(settled, decision="supportable", category="none")

    assert [row.merchant_id for row in decided_merchants()] == [settled.pk]


def test_a_gold_answer_gives_its_rationale_and_date() -> None:
    merchant = casino()
    gold = GoldAnswer.objects.create(
        merchant=merchant,
        decision="restricted",
        category=PolicyCategory.objects.get(slug="gambling"),
        rationale="Known casino.",
        created_by=UserFactory.create(role="lead"),
    )
    clean_label(merchant, decision="restricted", category="gambling", source=CleanLabel.Source.GOLD)

    (row,) = decided_merchants()

    assert (row.rationale, row.decided_at) == ("Known casino.", gold.created_at)


def test_refreshing_twice_builds_one_index_with_one_audit_event() -> None:
    agreed(casino(), "restricted", "gambling", "Betting.")
    clean_labels_refresh()

    first = similar_index_refresh()
    second = similar_index_refresh()

    assert first is not None and second == first
    assert SimilarityIndex.objects.count() == 1
    (event,) = AuditEvent.objects.filter(verb="similarity_index.build")
    assert event.after == {
        "decided_merchants": 1,
        "sha256": first.sha256,
        "location": first.location,
    }


def test_nothing_decided_builds_no_index() -> None:
    assert similar_index_refresh() is None
    assert similar_decisions(merchant=casino()).unavailable == (
        "No index yet: the next retraining builds it"
    )
