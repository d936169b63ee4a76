from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.test import Client

from labeling import services as labeling
from review import services
from supportability.models import AuditEvent
from tests.clients import logged_in
from tests.factories import ReviewItemFactory, scored_population
from tests.review.test_sampling import settle

pytestmark = pytest.mark.django_db


def test_lead_pages_are_lead_only(analyst, lead):
    for url in ("/lead/", "/lead/labels/"):
        assert Client().get(url).status_code == 302
        assert logged_in(analyst).get(url).status_code == 403
        assert logged_in(lead).get(url).status_code == 200
    assert logged_in(analyst).post("/lead/retrain/").status_code == 403


def test_lead_sees_the_label_who_made_it_and_when(analyst, lead):
    item = ReviewItemFactory(merchant__name="Replica Watches Outlet")
    lease = labeling.item_claim(user=analyst)
    label, _ = labeling.label_submit(
        user=analyst,
        item_id=item.pk,
        lease_token=lease.token,
        data=labeling.LabelInput(
            "prohibited", "counterfeit-goods", "Replicas of luxury brands.", uuid.uuid4().hex
        ),
    )
    html = logged_in(lead).get("/lead/labels/").content.decode()
    row = html[html.index(f'data-label="{label.pk}"') :]
    assert "Replica Watches Outlet" in row
    assert ">ana<" in row
    assert label.created_at.strftime("%Y-%m-%d %H:%M:%S") in row
    assert "Counterfeit goods" in row


def test_home_sends_each_role_to_its_page(analyst, lead):
    assert logged_in(analyst).get("/")["Location"] == "/queue/"
    assert logged_in(lead).get("/")["Location"] == "/lead/"


def test_dashboard_shows_audit_events_in_words(lead):
    item = ReviewItemFactory(merchant__external_id="M-1042")
    lease = labeling.item_claim(user=lead)
    assert AuditEvent.objects.filter(verb="item.claim").exists()
    html = logged_in(lead).get("/lead/").content.decode()
    assert f"lead {lead.username} opened M-1042 to label it" in html
    assert "item.claim" not in html and str(lease.token) not in html
    assert item.merchant.external_id in html


def test_dashboard_shows_weighted_and_naive_estimates_and_automation_bias(lead):
    scored_population(200, seed=4)
    drawn = services.queue_draw_now(queue_id=labeling.queue_default().pk)
    settle(drawn, lambda d: d.probability > 0.4)
    html = logged_in(lead).get("/lead/").content.decode()
    table = html[html.index('id="estimates-table"') :]
    table = table[: table.index("</table>")]
    assert "Violating (restricted or prohibited)" in table
    assert "Precision of flagging" in table and "Recall of the model" in table
    assert table.count('class="ipw"') == table.count('class="naive"') >= 5
    assert 'id="bias-table"' in html and "Score hidden" in html


def test_dashboard_reads_stay_few_as_rounds_accumulate(lead, django_assert_max_num_queries):
    scored_population(200, seed=7)
    queue = labeling.queue_default()
    client = logged_in(lead)
    client.get("/lead/")  # warm the session and the caches
    for seed in range(3):
        drawn = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(seed))
        settle(drawn, lambda d: d.probability > 0.4)
        with django_assert_max_num_queries(40) as queries:
            assert client.get("/lead/").status_code == 200
        counts = len(queries)
        if seed == 0:
            first = counts
    assert counts == first  # one more round adds rows, not queries
