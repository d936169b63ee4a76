from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from labeling.models import Label, Lease, Queue, ReviewItem
from tests.clients import logged_in
from tests.factories import ReviewItemFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _form(lease: Lease, **overrides) -> dict:
    form = {
        "lease": str(lease.token),
        "decision": "prohibited",
        "category": "pseudo-pharmaceuticals",
        "rationale": "Peptides for injection.",
        "idempotency_key": "k-1",
    }
    form.update(overrides)
    return form


def test_workbench_requires_login_and_a_labelling_role(make_user):
    assert Client().get("/queue/").status_code == 302
    assert logged_in(make_user("service", username="svc")).get("/queue/").status_code == 403
    assert logged_in(make_user("analyst", username="a")).get("/queue/").status_code == 200


def test_next_claims_and_returns_the_item_fragment(analyst):
    ReviewItemFactory(merchant__name="Glow Wellness")
    response = logged_in(analyst).post("/queue/next/", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment, not a page
    assert "Glow Wellness" in html and 'id="label-form"' in html
    assert Lease.objects.get().holder == analyst


def test_merchant_text_is_escaped(analyst):
    ReviewItemFactory(
        merchant__name="<img src=x onerror=alert(1)>",
        merchant__website_text="<script>alert('owned')</script>",
    )
    html = logged_in(analyst).post("/queue/next/", **HX).content.decode()
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in html


def test_label_swaps_in_the_next_item(analyst):
    first = ReviewItemFactory(priority=0.9, merchant__name="First Co")
    ReviewItemFactory(priority=0.5, merchant__name="Second Co")
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get()
    response = client.post(f"/queue/items/{first.pk}/label/", _form(lease), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Labelled First Co as prohibited" in html
    assert "Second Co" in html
    assert Label.objects.get().item == first
    assert json.loads(response["HX-Trigger"]) == {"itemDone": {}}  # the page drops its draft


def test_label_without_rationale_is_400_with_the_field_named(analyst):
    item = ReviewItemFactory()
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get()
    response = client.post(f"/queue/items/{item.pk}/label/", _form(lease, rationale=""), **HX)
    assert response.status_code == 400
    assert re.search(
        r'data-field="rationale">[^<]*rationale is required', response.content.decode()
    )
    assert not Label.objects.exists()
    # Our fragment, marked for the page to swap in, with what was chosen; the draft stays.
    assert response["X-Error-Fragment"] == "swap" and "HX-Trigger" not in response
    assert 'value="prohibited" checked' in response.content.decode()


def test_label_on_a_lease_lost_is_409(make_user):
    item = ReviewItemFactory()
    holder = logged_in(make_user(username="h"))
    holder.post("/queue/next/", **HX)
    lease = Lease.objects.get()
    thief = logged_in(make_user(username="t"))
    response = thief.post(f"/queue/items/{item.pk}/label/", _form(lease), **HX)
    assert response.status_code == 409
    assert "leased to another analyst" in response.content.decode()


def test_skip_releases_and_claims_another(analyst):
    skipped = ReviewItemFactory(priority=0.9)
    other = ReviewItemFactory(priority=0.1)
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get(item=skipped)
    response = client.post(f"/queue/items/{skipped.pk}/release/", {"lease": str(lease.token)}, **HX)
    assert response.status_code == 200
    assert Lease.objects.get(holder=analyst, outcome="active").item == other


def test_heartbeat_on_a_lost_lease_is_a_marked_fragment(make_user):
    item = ReviewItemFactory()
    logged_in(make_user(username="h")).post("/queue/next/", **HX)
    lease = Lease.objects.get()
    thief = logged_in(make_user(username="t"))
    response = thief.post(f"/queue/items/{item.pk}/heartbeat/", {"lease": lease.token}, **HX)
    assert response.status_code == 409
    assert response["X-Error-Fragment"] == "swap"
    assert 'role="alert"' in response.content.decode()


def test_skip_tells_the_page_to_drop_its_draft(analyst):
    skipped = ReviewItemFactory()
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get(item=skipped)
    response = client.post(f"/queue/items/{skipped.pk}/release/", {"lease": str(lease.token)}, **HX)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"itemDone": {}}
    assert "X-Error-Fragment" not in response


def test_plain_post_without_htmx_redirects_to_the_page(analyst):
    ReviewItemFactory()
    response = logged_in(analyst).post("/queue/next/")
    assert response.status_code == 302 and response["Location"] == "/queue/"


# The review screen and the label-then-next swap, pinned whatever the queue size.
# The label and the next claim each write an unsealed audit event (the sealer links it into
# the chain later): on PostgreSQL inside the label and lease statements, on SQLite one
# insert each. The screen itself (issue 13): the session, the user and their roles,
# the lease with its item, merchant, score and model; the categories; the undo offer; the
# reviewer's key settings; the queues and their counts with SLA breaches; the policy
# version; the merchant's other open items; the similar-decisions index; the merchant's
# adjudications and its consensus label (its earlier decisions, from the review layer).
SCREEN_QUERIES = {"postgresql": 14, "sqlite": 14}
LABEL_AND_NEXT_QUERIES = {"postgresql": 30, "sqlite": 36}


@pytest.mark.parametrize("queued", [3, 120])
def test_review_screen_and_label_queries_are_pinned(queued, make_user, django_assert_num_queries):
    from django.db import connection

    ReviewItemFactory.create_batch(queued)
    Queue.objects.update(gold_rate=0)  # a gold draw costs one more query
    user = make_user(username=f"q{queued}")
    client = logged_in(user)
    client.post("/queue/next/", **HX)
    with django_assert_num_queries(SCREEN_QUERIES[connection.vendor]):
        assert client.get("/queue/").status_code == 200
    lease = Lease.objects.get(holder=user, outcome="active")
    with django_assert_num_queries(LABEL_AND_NEXT_QUERIES[connection.vendor]):
        response = client.post(f"/queue/items/{lease.item_id}/label/", _form(lease), **HX)
    assert response.status_code == 200


def test_htmx_request_after_the_session_lapsed_redirects_the_page():
    response = Client().post("/queue/next/", **HX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/"


def test_an_item_that_hides_the_score_renders_without_score_or_explanation(analyst):
    ReviewItemFactory(score_hidden=True, score__probability=0.93, reason=ReviewItem.Reason.RISK)
    html = logged_in(analyst).post("/queue/next/", **HX).content.decode()
    assert 'id="label-form"' in html and 'id="score-hidden"' in html
    assert 'id="model-score"' not in html and "probability of violating" not in html
    assert "peptides" not in html  # the explanation's terms
    assert 'id="item-reason"' not in html  # "risk sample" would give the model away


def test_an_item_that_shows_the_score_renders_score_and_why(analyst):
    ReviewItemFactory(score__probability=0.93, reason=ReviewItem.Reason.UNCERTAINTY)
    html = logged_in(analyst).post("/queue/next/", **HX).content.decode()
    assert 'id="model-score">0.93<' in html and "peptides" in html
    assert "Uncertainty sample" in html and 'id="score-hidden"' not in html
