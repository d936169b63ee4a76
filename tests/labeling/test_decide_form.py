"""The decision side of the review screen, through the client: undo, suggestions, errors tied
to their fields, and what a second tab is told."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from labeling.models import Label, Lease, ReviewItem
from tests.clients import logged_in
from tests.factories import ReviewItemFactory, ScoreFactory, label_through_services

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The team's favourite categories are cached a minute: each test starts without."""
    cache.clear()


def _label(client, item, **fields):
    lease = Lease.objects.filter(item=item, outcome=Lease.Outcome.ACTIVE).first()
    form = {
        "lease": str(lease.token) if lease else "",
        "decision": "prohibited",
        "category": "gambling",
        "rationale": "Online casino.",
        "idempotency_key": f"k-{item.pk}",
        **fields,
    }
    return client.post(f"/queue/items/{item.pk}/label/", form, **HX)


def test_label_answer_carries_the_undo_bar_out_of_band(analyst):
    first = ReviewItemFactory(priority=0.9, merchant__name="Spin Palace")
    ReviewItemFactory(priority=0.1)
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    html = _label(client, first).content.decode()
    label = Label.objects.get()
    assert re.search(r'<div id="undo-bar" class="undo-bar" hx-swap-oob="true">', html)
    assert f"/queue/labels/{label.pk}/undo/" in html
    assert "You labelled Spin Palace" in html


def test_undo_view_brings_the_item_back_with_the_choice_filled_in(analyst):
    first = ReviewItemFactory(priority=0.9, merchant__name="Spin Palace")
    nxt = ReviewItemFactory(priority=0.1)
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    _label(client, first)
    label = Label.objects.get()
    response = client.post(f"/queue/labels/{label.pk}/undo/", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Label on Spin Palace withdrawn" in html
    assert 'value="prohibited"\n            checked' in html or re.search(
        r'value="prohibited"\s+checked', html
    )
    assert '<option value="gambling" selected>' in html
    assert "Online casino.</textarea>" in html
    assert Lease.objects.get(holder=analyst, outcome=Lease.Outcome.ACTIVE).item_id == first.pk
    assert not Label.objects.exists()
    nxt.refresh_from_db()
    assert nxt.status == ReviewItem.Status.QUEUED


def test_undo_of_a_label_that_moved_on_is_409_with_the_reason(analyst):
    first = ReviewItemFactory(priority=0.9)
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    _label(client, first)
    label = Label.objects.get()
    ReviewItem.objects.filter(pk=first.pk).update(status=ReviewItem.Status.ESCALATED)
    response = client.post(f"/queue/labels/{label.pk}/undo/", **HX)
    assert response.status_code == 409
    assert response["X-Error-Fragment"] == "swap"
    assert "Too late to undo: the merchant has moved on" in response.content.decode()
    assert Label.objects.filter(pk=label.pk).exists()


def test_undo_of_another_analysts_label_is_refused(analyst, make_user):
    item = ReviewItemFactory()
    label = label_through_services(make_user(username="other"), item, "prohibited", "gambling")
    response = logged_in(analyst).post(f"/queue/labels/{label.pk}/undo/", **HX)
    assert response.status_code == 409
    assert Label.objects.filter(pk=label.pk).exists()


@pytest.mark.parametrize(
    ("typed", "field", "element"),
    [({"category": ""}, "category", "select"), ({"rationale": ""}, "rationale", "textarea")],
)
def test_a_field_error_is_tied_to_its_field(analyst, typed, field, element):
    item = ReviewItemFactory()
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    response = _label(client, item, **typed)
    assert response.status_code == 400
    html = response.content.decode()
    tied = rf'<{element} id="{field}"[^>]*aria-invalid="true" aria-describedby="{field}-error"'
    assert re.search(tied, html)
    assert re.search(rf'id="{field}-error" data-field="{field}">\w', html)
    assert not Label.objects.exists()


def _suggested(html: str) -> list[str]:
    return re.findall(r'class="suggestion"[^>]*data-slug="([^"]+)"', html)


def test_suggestions_follow_the_model_where_its_score_is_shown(analyst):
    score = ScoreFactory(
        explanation={"categories": [["weapons", 0.5], ["gambling", 0.3]]},
    )
    ReviewItemFactory(merchant=score.merchant, score=score)
    html = logged_in(analyst).post("/queue/next/", **HX).content.decode()
    assert _suggested(html)[:3] == ["weapons", "gambling", "pseudo-pharmaceuticals"]
    assert len(_suggested(html)) == 5


def test_suggestions_on_a_score_hidden_item_say_nothing_of_the_model(analyst, make_user):
    for n in range(2):
        label_through_services(
            make_user(username=f"a{n}"), ReviewItemFactory(), "restricted", "gambling"
        )
    score = ScoreFactory(explanation={"categories": [["weapons", 0.9]]})
    ReviewItemFactory(merchant=score.merchant, score=score, score_hidden=True)
    html = logged_in(analyst).post("/queue/next/", **HX).content.decode()
    suggested = _suggested(html)
    assert suggested[0] == "gambling"  # the team's most used
    assert "weapons" not in suggested[:1] and "pseudo-pharmaceuticals" not in suggested[:1]
    assert "Most used:" in html


def test_most_used_counts_only_finished_items(analyst, make_user):
    """A label of an item still open for labels is blind: it moves nothing."""
    for n in range(2):
        label_through_services(
            make_user(username=f"a{n}"), ReviewItemFactory(), "restricted", "gambling"
        )
    for n in range(3):
        open_item = ReviewItemFactory(required_labels=2, priority=0.5 + n / 10)
        label_through_services(make_user(username=f"b{n}"), open_item, "prohibited", "weapons")
    ReviewItemFactory(score_hidden=True, priority=0.99)
    suggested = _suggested(logged_in(analyst).post("/queue/next/", **HX).content.decode())
    assert suggested[0] == "gambling"


def test_heartbeat_after_labelling_in_another_tab_says_what_happened(analyst):
    first = ReviewItemFactory(priority=0.9, merchant__name="Spin Palace")
    ReviewItemFactory(priority=0.1, merchant__name="Quiet Books")
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    old = Lease.objects.get(item=first)
    _label(client, first)  # in "the other tab"
    response = client.post(f"/queue/items/{first.pk}/heartbeat/", {"lease": old.token}, **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert "You labelled Spin Palace in another tab or window." in html
    assert "You are now on Quiet Books" in html
    assert 'id="take-over"' in html


def test_submit_from_a_stale_tab_says_so_and_shows_the_held_merchant(analyst):
    first = ReviewItemFactory(priority=0.9, merchant__name="Spin Palace")
    ReviewItemFactory(priority=0.1, merchant__name="Quiet Books")
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    old = Lease.objects.get(item=first)
    _label(client, first)
    response = _label(client, first, lease=str(old.token), idempotency_key="k-other")
    assert response.status_code == 409
    html = response.content.decode()
    assert "You labelled Spin Palace in another tab" in html
    assert "This tab now shows the merchant you hold." in html and "Quiet Books" in html
