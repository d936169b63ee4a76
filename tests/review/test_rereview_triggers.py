"""Decided merchants come back for a second look when their own words change materially
or when a newly promoted champion crosses the threshold against their decision."""

from __future__ import annotations

import pytest

from labeling import services as labeling
from labeling.models import ReviewItem
from review import services
from review.models import CleanLabel, ReReview
from supportability.ml.text_change import material_change
from supportability.models import AuditEvent, ModelVersion, OutboxMessage
from tests.factories import (
    MerchantFactory,
    ModelVersionFactory,
    ReviewItemFactory,
    ScoreFactory,
    label_through_services,
)

pytestmark = pytest.mark.django_db

SHOP = "Handmade leather wallets and belts, stitched in our Lisbon workshop."


@pytest.mark.parametrize(
    ("after", "material"),
    [
        (SHOP, False),
        ("Handmade leather wallets and belts, stiched in our Lisbon workshop!", False),
        ("Stitched in our Lisbon workshop: handmade leather belts and wallets.", False),
        ("Research chemicals, kratom and CBD tinctures shipped discreetly worldwide.", True),
        (SHOP + " Now also selling replica designer handbags at outlet prices.", True),
        ("", True),
    ],
)
def test_material_change_ignores_typos_and_order_but_not_new_words(after, material):
    assert material_change(SHOP, after) is material


def _decided(make_user, **merchant):
    analyst = make_user("analyst", username="first")
    item = ReviewItemFactory(merchant__description=SHOP, **merchant)
    label_through_services(analyst, item, "supportable", "none")
    services.clean_labels_refresh()
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.DONE
    return item


def _flag(merchant, description: str) -> dict:
    return {
        "merchant": {
            "external_id": merchant.external_id,
            "name": merchant.name,
            "country": merchant.country,
            "mcc": merchant.mcc,
            "description": description,
        },
        "model": {"name": "upstream", "version": "1"},
        "score": 0.2,
    }


def _decided_upstream(make_user) -> ReviewItem:
    """A merchant an upstream detector flagged, decided supportable by an analyst."""
    merchant = MerchantFactory.build(description=SHOP)
    labeling.flags_ingest(rows=[_flag(merchant, SHOP)], actor=None)
    item = ReviewItem.objects.get(merchant__external_id=merchant.external_id)
    label_through_services(make_user("analyst", username="first"), item, "supportable", "none")
    services.clean_labels_refresh()
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.DONE
    return item


def test_a_decided_merchant_that_rewrites_its_description_goes_back_for_a_second_look(
    make_user,
):
    """The detector sends the merchant again with the same score (no new item) and new
    words: the decision is looked at again."""
    item = _decided_upstream(make_user)
    labeling.flags_ingest(
        rows=[_flag(item.merchant, "Research chemicals and kratom, shipped discreetly.")],
        actor=None,
    )
    message = OutboxMessage.objects.get(task="review.tasks.rereview_text_changed")
    assert message.kwargs == {"merchant_ids": [item.merchant_id]}
    assert services.rereview_text_changed(**message.kwargs) == 1
    review = ReReview.objects.get(merchant=item.merchant)
    assert (review.reason, review.decision) == (ReReview.Reason.TEXT_CHANGED, "supportable")
    item.refresh_from_db()
    assert (item.status, item.required_labels) == (ReviewItem.Status.QUEUED, 2)
    assert AuditEvent.objects.filter(verb="re_review.text_changed").count() == 1
    # Told twice (a redelivered message): still one look.
    assert services.rereview_text_changed(**message.kwargs) == 0


def test_a_typo_fix_sends_nothing(make_user):
    item = _decided_upstream(make_user)
    labeling.flags_ingest(
        rows=[_flag(item.merchant, SHOP.replace("stitched", "stiched"))], actor=None
    )
    assert not OutboxMessage.objects.filter(task="review.tasks.rereview_text_changed").exists()


def test_an_undecided_merchant_is_not_sent_for_a_second_look(make_user):
    item = ReviewItemFactory(merchant__description=SHOP)
    assert services.rereview_text_changed(merchant_ids=[item.merchant_id]) == 0
    assert not ReReview.objects.exists()


def _champions(merchant, before: float, after: float) -> tuple[ModelVersion, ModelVersion]:
    old = ModelVersionFactory.create(status=ModelVersion.Status.RETIRED)
    new = ModelVersionFactory.create(status=ModelVersion.Status.CHAMPION)
    ScoreFactory(merchant=merchant, model_version=old, probability=before)
    ScoreFactory(merchant=merchant, model_version=new, probability=after)
    return old, new


def test_a_supportable_decision_the_new_champion_now_flags_goes_back(make_user):
    item = _decided(make_user)
    old, new = _champions(item.merchant, before=0.2, after=0.8)
    assert services.rereview_crossed(before_id=old.pk, after_id=new.pk) == 1
    review = ReReview.objects.get(merchant=item.merchant)
    assert review.reason == ReReview.Reason.CROSSED
    assert review.model_probability == pytest.approx(0.8)


@pytest.mark.parametrize(("before", "after"), [(0.2, 0.4), (0.8, 0.3)])
def test_a_move_that_stays_below_or_agrees_with_the_decision_sends_nothing(
    make_user, before, after
):
    """0.2 -> 0.4 never crosses; 0.8 -> 0.3 crosses towards the decision (supportable)."""
    item = _decided(make_user)
    old, new = _champions(item.merchant, before=before, after=after)
    assert services.rereview_crossed(before_id=old.pk, after_id=new.pk) == 0
    assert CleanLabel.objects.filter(merchant=item.merchant).exists()


def test_a_second_look_waits_from_when_it_was_sent_back_not_from_the_first_review(make_user):
    """An item decided weeks ago and sent back is not 'past its SLA by 40 days' (which
    would also tell the analyst it is a re-review)."""
    from datetime import timedelta

    from django.utils import timezone

    from labeling.selectors import queue_stats

    item = _decided(make_user)
    weeks_ago = timezone.now() - timedelta(days=40)
    ReviewItem.objects.filter(pk=item.pk).update(
        created_at=weeks_ago, queued_at=weeks_ago, sla_breached_at=weeks_ago
    )
    assert services.rereview_text_changed(merchant_ids=[item.merchant_id]) == 1
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.QUEUED and item.sla_breached_at is None
    assert timezone.now() - item.queued_at < timedelta(minutes=1)
    assert queue_stats().breached == 0
