"""The lead's adjudication, sign-off, audit and agreement pages, through the client."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from labeling.models import Lease, ReviewItem
from review import services
from review.models import Adjudication, QaAudit, ReviewSettings
from tests.clients import logged_in
from tests.factories import escalated_item

pytestmark = pytest.mark.django_db

BET = ("restricted", "gambling")
OK = ("supportable", "none")


PAGES = [
    ("get", "review:work", {}),
    ("post", "review:claim", {}),
    ("post", "review:rules", {}),
    ("get", "review:item", {"item_id": 1}),
    ("post", "review:adjudicate", {"item_id": 1}),
    ("post", "review:signoff", {"item_id": 1}),
    ("post", "review:qa-audit", {"item_id": 1}),
    ("post", "review:release", {"item_id": 1}),
    ("post", "review:heartbeat", {"item_id": 1}),
    ("post", "review:reopen", {"adjudication_id": 1}),
    ("get", "review:agreement", {}),
    ("get", "review:agreement-csv", {}),
    ("post", "review:recompute", {}),
]


@pytest.mark.parametrize(("method", "name", "kwargs"), PAGES)
def test_analysts_are_refused_every_lead_page(analyst, method, name, kwargs):
    response = getattr(logged_in(analyst), method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "name", "kwargs"), PAGES)
def test_anonymous_users_are_sent_to_log_in(client, method, name, kwargs):
    response = getattr(client, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert "/login" in response["Location"]


@pytest.mark.parametrize("name", ["review:work", "review:agreement", "review:agreement-csv"])
def test_leads_see_their_pages(lead, name):
    assert logged_in(lead).get(reverse(name)).status_code == 200


def claim(client, work="adjudicate"):
    return client.post(reverse("review:claim"), {"work": work})


def test_a_lead_adjudicates_a_disagreement_in_the_browser_flow(lead, disagreement):
    client = logged_in(lead)
    response = claim(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("review:item", kwargs={"item_id": disagreement.pk})
    screen = client.get(response["Location"])
    body = screen.content.decode()
    assert screen.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bets" in body  # merchant text escaped
    assert "<script>alert(1)" not in body
    assert body.count('class="label-card"') == 2
    lease = screen.context["view"].lease
    labels = [seen.label for seen in screen.context["view"].labels]
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {
            "lease": lease.token,
            "decision": "restricted",
            "category": "gambling",
            "rationale": "sportsbook odds on the home page",
            "upheld_label": labels[0].pk,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("review:work")  # nothing else to adjudicate
    adjudication = Adjudication.objects.get()
    assert adjudication.upheld_label == labels[0]
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.DONE


def test_a_missing_rationale_is_a_400_naming_the_field(lead, disagreement):
    client = logged_in(lead)
    claim(client)
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {"lease": lease.token, "decision": "restricted", "category": "gambling", "rationale": ""},
    )
    assert response.status_code == 400
    assert 'data-field="rationale"' in response.content.decode()
    assert not Adjudication.objects.exists()


HX = {"HX-Request": "true"}


def test_an_htmx_decision_refused_returns_the_form_alone_marked_to_swap(lead, disagreement):
    client = logged_in(lead)
    claim(client)
    lease = Lease.objects.get(holder=lead, outcome="active")
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {"lease": lease.token, "decision": "restricted", "category": "", "rationale": "odds"},
        headers=HX,
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" not in html and html.count('id="decide"') == 1
    assert 'data-field="category"' in html and ">odds</textarea>" in html
    assert response["X-Error-Fragment"] == "swap" and "HX-Trigger" not in response


def test_an_htmx_decision_accepted_loads_the_next_page_and_drops_the_draft(lead, disagreement):
    client = logged_in(lead)
    claim(client)
    lease = Lease.objects.get(holder=lead, outcome="active")
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {"lease": lease.token, "decision": "restricted", "category": "gambling", "rationale": "x"},
        headers=HX,
    )
    # Not a 302: the XHR would follow it and swap the next page into the form.
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("review:work")
    assert json.loads(response["HX-Trigger"]) == {"itemDone": {}}
    assert Adjudication.objects.get().rationale == "x"


def test_an_htmx_decision_on_a_lost_lease_keeps_the_rationale_in_a_marked_fragment(
    lead, disagreement
):
    client = logged_in(lead)
    claim(client)
    lease = Lease.objects.get(holder=lead, outcome="active")
    Lease.objects.filter(pk=lease.pk).update(expires_at=lease.claimed_at)
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {"lease": lease.token, "decision": "restricted", "category": "gambling", "rationale": "y"},
        headers=HX,
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "<html" not in html and 'id="kept-rationale"' in html and ">y</textarea>" in html
    assert response["X-Error-Fragment"] == "swap" and "HX-Trigger" not in response


def test_a_lead_who_labelled_the_item_is_refused_by_the_view(make_user, pair):
    labeller = make_user("lead", username="labelling-lead")
    item = escalated_item([pair[0], labeller], [BET, OK])
    client = logged_in(labeller)
    response = claim(client)
    assert response.status_code == 302 and response["Location"] == reverse("review:work")
    # Even holding a lease (forged), the decision is refused with 403 and nothing written.
    from labeling.models import Lease
    from labeling.services import lease_ttl

    lease = Lease.objects.create(
        item=item,
        holder=labeller,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + lease_ttl(),
    )
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": item.pk}),
        {"lease": lease.token, "decision": "restricted", "category": "gambling", "rationale": "x"},
    )
    assert response.status_code == 403
    assert not Adjudication.objects.exists()


def test_a_lead_cannot_open_an_item_they_do_not_hold(lead, make_user, disagreement):
    services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    response = logged_in(lead).get(reverse("review:item", kwargs={"item_id": disagreement.pk}))
    assert response.status_code == 302 and response["Location"] == reverse("review:work")


def test_four_eyes_through_the_views(make_user, pair):
    item = escalated_item(pair, [("prohibited", "sanctioned-jurisdictions"), OK])
    maker, checker = make_user("lead", username="maker"), make_user("lead", username="checker")
    first = logged_in(maker)
    claim(first)
    lease = services.lead_claim(user=maker, work=services.Work.ADJUDICATE)
    made = first.post(
        reverse("review:adjudicate", kwargs={"item_id": item.pk}),
        {
            "lease": lease.token,
            "decision": "prohibited",
            "category": "sanctioned-jurisdictions",
            "rationale": "ships to a sanctioned region",
        },
    )
    assert made.status_code == 302
    assert Adjudication.objects.get().status == Adjudication.Status.AWAITING_SIGNOFF
    assert claim(first, "signoff")["Location"] == reverse("review:work")  # not their own
    second = logged_in(checker)
    response = claim(second, "signoff")
    assert response["Location"] == reverse("review:item", kwargs={"item_id": item.pk})
    screen = second.get(response["Location"])
    assert "ships to a sanctioned region" in screen.content.decode()
    second.post(
        reverse("review:signoff", kwargs={"item_id": item.pk}),
        {"lease": screen.context["view"].lease.token, "verdict": "approve"},
    )
    assert Adjudication.objects.get().status == Adjudication.Status.FINAL
    assert Adjudication.objects.get().signoff_by == checker


def test_reopen_through_the_view(lead, disagreement):
    client = logged_in(lead)
    claim(client)
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    services.adjudication_submit(
        user=lead,
        item_id=disagreement.pk,
        lease_token=lease.token,
        data=services.Decided("restricted", "gambling", "odds"),
    )
    adjudication = Adjudication.objects.get()
    url = reverse("review:reopen", kwargs={"adjudication_id": adjudication.pk})
    assert client.post(url, {"reason": ""}).status_code == 400
    adjudication.refresh_from_db()
    assert adjudication.status == Adjudication.Status.FINAL
    response = client.post(url, {"reason": "licence found"})
    assert response.status_code == 302
    adjudication.refresh_from_db()
    assert adjudication.status == Adjudication.Status.SUPERSEDED


def test_an_audit_through_the_views(analyst, lead):
    from tests.factories import ReviewItemFactory, label_through_services

    services.review_settings_update(
        actor=lead, audit_rate=1, audit_floor=1, audit_cap=1, four_eyes=[]
    )
    item = ReviewItemFactory()
    label_through_services(analyst, item, "supportable", "none")
    services.qa_audits_draw()
    client = logged_in(lead)
    response = claim(client, "audit")
    screen = client.get(response["Location"])
    assert screen.context["work"] == "audit"
    response = client.post(
        reverse("review:qa-audit", kwargs={"item_id": item.pk}),
        {"lease": screen.context["view"].lease.token, "verdict": "agree", "rationale": "fine"},
    )
    assert response.status_code == 302
    assert QaAudit.objects.get().status == QaAudit.Status.AGREED


def test_review_rules_are_validated_and_saved(lead):
    client = logged_in(lead)
    bad = client.post(
        reverse("review:rules"), {"audit_rate": 0.6, "audit_floor": 0.02, "audit_cap": 0.5}
    )
    assert bad.status_code == 400
    assert 'data-field="audit_rate"' in bad.content.decode()
    assert not ReviewSettings.objects.exists()
    client.post(
        reverse("review:rules"),
        {"audit_rate": 0.2, "audit_floor": 0.05, "audit_cap": 0.6, "four_eyes": ["weapons"]},
    )
    saved = ReviewSettings.objects.get()
    assert saved.audit_rate == 0.2
    assert [c.slug for c in saved.four_eyes.all()] == ["weapons"]


def test_agreement_page_and_csv_show_the_computed_figures(
    pair, lead, django_capture_on_commit_callbacks
):
    escalated_item(pair, [BET, BET])
    escalated_item(pair, [OK, BET], priority=0.5)
    client = logged_in(lead)
    # The click writes an outbox message; in tests it runs when the request commits.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("review:recompute"))
    page = client.get(reverse("review:agreement"))
    body = page.content.decode()
    assert "ann · bob" in body
    assert "<svg" in body
    csv_response = client.get(reverse("review:agreement-csv"))
    assert csv_response.streaming
    text = b"".join(csv_response.streaming_content).decode()
    rows = [line.split(",") for line in text.strip().splitlines()]
    assert rows[0][:5] == ["kind", "analyst_a", "analyst_b", "category", "items"]
    pair_row = next(r for r in rows if r[0] == "pair")
    assert pair_row[1:3] == ["ann", "bob"] and pair_row[4] == "2"
    assert any(r[0] == "analyst" and r[1] == "ann" for r in rows)


def test_a_lease_lost_mid_decision_is_a_409_that_keeps_the_rationale(lead, disagreement):
    from datetime import timedelta

    from labeling.models import Lease

    client = logged_in(lead)
    claim(client)
    lease = Lease.objects.get(holder=lead, outcome="active")
    Lease.objects.filter(pk=lease.pk).update(expires_at=lease.claimed_at - timedelta(seconds=1))
    response = client.post(
        reverse("review:adjudicate", kwargs={"item_id": disagreement.pk}),
        {
            "lease": lease.token,
            "decision": "restricted",
            "category": "gambling",
            "rationale": "a long careful rationale",
        },
    )
    assert response.status_code == 409
    assert "a long careful rationale" in response.content.decode()
    assert not Adjudication.objects.exists()


def test_reopen_without_a_reason_is_a_400(lead, disagreement):
    client = logged_in(lead)
    claim(client)
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    done = services.adjudication_submit(
        user=lead,
        item_id=disagreement.pk,
        lease_token=lease.token,
        data=services.Decided("restricted", "gambling", "odds"),
    )
    response = client.post(reverse("review:reopen", kwargs={"adjudication_id": done.pk}), {})
    assert response.status_code == 400
    assert "reason" in response.content.decode()
    done.refresh_from_db()
    assert done.status == Adjudication.Status.FINAL
