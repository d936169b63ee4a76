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
    clean_label,
    escalated_item,
    label_through_services,
)

pytestmark = pytest.mark.django_db

BET = ("restricted", "gambling")
OK = ("supportable", "none")


def _url(merchant) -> str:
    return f"/lead/merchants/{merchant.pk}/"


def _decided_before(merchant) -> None:
    """An earlier final decision: analysts reach a timeline from a past decision, so only a
    decided merchant's opens for them (a new item of it may be open now)."""
    clean_label(merchant, decision="supportable", category="none")


@pytest.fixture
def colleagues(make_user):
    return [make_user("analyst", username=n) for n in ("bea", "cyd")]


def test_analyst_sees_no_label_of_an_open_item(analyst, colleagues):
    item = escalated_item(colleagues, [BET, OK], priority=0.9)  # disagreement: with the leads
    assert item.status == ReviewItem.Status.ESCALATED
    _decided_before(item.merchant)
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
    _decided_before(item.merchant)
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


def test_an_undecided_or_gold_merchant_is_not_found_by_analysts(analyst, lead):
    """The object check: an analyst may not walk the ids to find, say, a gold item's age."""
    from labeling.services import LabelInput, gold_create

    undecided = ReviewItemFactory().merchant
    gold = MerchantFactory()
    gold_create(actor=lead, merchant=gold, data=LabelInput(*BET, "the answer", "k-gold"))
    _decided_before(gold)
    client = logged_in(analyst)
    assert client.get(_url(undecided)).status_code == 404
    assert client.get(_url(gold)).status_code == 404
    assert logged_in(lead).get(_url(gold)).status_code == 200


def test_scores_are_hidden_while_an_open_item_hides_them(analyst):
    item = ReviewItemFactory(score_hidden=True)
    ScoreFactory(merchant=item.merchant, probability=0.93)
    _decided_before(item.merchant)
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert 'id="score-chart"' not in html and "0.93" not in html
    assert 'id="scores-hidden"' in html


def test_scores_are_shown_otherwise(analyst, colleagues):
    item = escalated_item(colleagues, [BET, BET], priority=0.9)
    _decided_before(item.merchant)
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert 'id="score-chart"' in html


def test_analysts_own_open_label_is_hidden_too(analyst, colleagues):
    item = ReviewItemFactory(required_labels=2, priority=0.9)
    label_through_services(analyst, item, *BET, rationale="my own reasons")
    _decided_before(item.merchant)
    html = logged_in(analyst).get(_url(item.merchant)).content.decode()
    assert "my own reasons" not in html
