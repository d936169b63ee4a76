"""A merchant's timeline for analysts: read-only and blind. Labels, adjudications and QA
verdicts of an item still open for labels are hidden; closed items show only their final
outcome. Leads see everything."""

from __future__ import annotations

import pytest

from labeling.models import ReviewItem
from tests.clients import logged_in
from tests.factories import (
    MerchantFactory,
    ReviewItemFactory,
    ScoreFactory,
    escalated_item,
    label_through_services,
)

pytestmark = pytest.mark.django_db

BET = ("restricted", "gambling")
OK = ("supportable", "none")


def _url(merchant) -> str:
    return f"/lead/merchants/{merchant.pk}/"


@pytest.fixture
def colleagues(make_user):
    return [make_user("analyst", username=n) for n in ("bea", "cyd")]


def test_analyst_sees_no_label_of_an_open_item(analyst, colleagues):
    item = escalated_item(colleagues, [BET, OK], priority=0.9)  # disagreement: with the leads
    assert item.status == ReviewItem.Status.ESCALATED
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert "bea" not in timeline and "cyd" not in timeline
    assert "seen it" not in timeline  # the rationale
    assert "Labelled" not in timeline and "gambling" not in timeline.lower()
    assert "labels stay hidden until it is decided" in timeline
    assert 'data-kind="event"' not in timeline  # the audit trail would tell the labels


def test_analyst_sees_only_the_final_outcome_of_a_closed_item(analyst, colleagues):
    item = escalated_item(colleagues, [BET, BET], priority=0.9)  # agreed: done
    assert item.status == ReviewItem.Status.DONE
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert "Decided restricted · Gambling" in timeline
    assert "the labels agreed" in timeline
    assert "bea" not in timeline and "cyd" not in timeline and "seen it" not in timeline
    assert 'id="reopen"' not in html  # read-only


def test_lead_sees_every_label_of_an_open_item(lead, colleagues):
    item = escalated_item(colleagues, [BET, OK], priority=0.9)
    html = logged_in(lead).get(_url(item.merchant)).content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert "bea" in timeline and "cyd" in timeline and "seen it" in timeline
    assert "Labelled restricted · Gambling" in timeline


def test_gold_items_stay_open_to_analysts(analyst, lead, colleagues):
    from labeling.services import LabelInput, gold_create

    merchant = MerchantFactory()
    gold_create(actor=lead, merchant=merchant, data=LabelInput(*BET, "the answer", "k-gold"))
    html = logged_in(analyst).get(_url(merchant)).content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert "the answer" not in timeline and "Decided" not in timeline
    assert "labels stay hidden" in timeline


def test_scores_are_hidden_while_an_open_item_hides_them(analyst):
    item = ReviewItemFactory(score_hidden=True)
    ScoreFactory(merchant=item.merchant, probability=0.93)
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert 'id="score-chart"' not in html and "0.93" not in html
    assert 'id="scores-hidden"' in html


def test_scores_are_shown_otherwise(analyst, colleagues):
    item = escalated_item(colleagues, [BET, BET], priority=0.9)
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert 'id="score-chart"' in html


def test_analysts_own_open_label_is_hidden_too(analyst, colleagues):
    item = ReviewItemFactory(required_labels=2, priority=0.9)
    label_through_services(analyst, item, *BET, rationale="my own reasons")
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert "my own reasons" not in html
