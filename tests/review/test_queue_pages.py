from __future__ import annotations

import pytest

from labeling.models import GoldAnswer, Queue, ReviewItem
from supportability.models import AuditEvent
from tests.clients import logged_in
from tests.factories import MerchantFactory, QueueFactory, ReviewItemFactory

pytestmark = pytest.mark.django_db


def test_queue_page_is_lead_only_and_shows_counts_and_oldest_age(analyst, lead):
    ReviewItemFactory.create_batch(3)
    assert logged_in(analyst).get("/lead/queues/").status_code == 403
    assert logged_in(analyst).post("/lead/gold/", {}).status_code == 403
    html = logged_in(lead).get("/lead/queues/").content.decode()
    row = html[html.index('data-queue="general"') :]
    assert "<td>3</td>" in row
    assert " s</td>" in row  # the oldest waiting item's age


def test_lead_pauses_a_queue(lead):
    queue = QueueFactory(slug="crypto")
    response = logged_in(lead).post(
        f"/lead/queues/{queue.pk}/",
        {"paused": "on", "overlap_share": "0.2", "overlap_k": "3", "gold_rate": "0.1"},
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.paused, queue.overlap_share, queue.overlap_k, queue.gold_rate) == (
        True,
        0.2,
        3,
        0.1,
    )
    assert AuditEvent.objects.filter(verb="queue.update", actor=lead).exists()


def test_bad_queue_setting_is_400_naming_the_field(lead):
    queue = QueueFactory(slug="crypto")
    response = logged_in(lead).post(
        f"/lead/queues/{queue.pk}/", {"overlap_share": "2", "overlap_k": "2", "gold_rate": "0"}
    )
    assert response.status_code == 400
    assert "crypto.overlap_share" in response.content.decode()
    assert Queue.objects.get(pk=queue.pk).overlap_share == pytest.approx(0.0)


def test_lead_sets_a_gold_answer(lead):
    merchant = MerchantFactory(external_id="GOLD-1")
    response = logged_in(lead).post(
        "/lead/gold/",
        {
            "external_id": "GOLD-1",
            "decision": "prohibited",
            "category": "weapons",
            "rationale": "Unlicensed firearms dealer.",
        },
    )
    assert response.status_code == 302
    answer = GoldAnswer.objects.get(merchant=merchant)
    assert answer.created_by == lead
    assert ReviewItem.objects.get(gold=answer).status == ReviewItem.Status.QUEUED


def test_gold_form_names_the_bad_field(lead):
    response = logged_in(lead).post(
        "/lead/gold/",
        {"external_id": "NOPE", "decision": "prohibited", "category": "weapons", "rationale": "x"},
    )
    assert response.status_code == 400
    assert 'data-field="external_id"' in response.content.decode()
    assert not GoldAnswer.objects.exists()
