"""The evidence side of the analyst's review screen (/queue/): policy, MCC, website link,
highlighted terms, percentiles, legend, the merchant's other items and earlier decisions,
and the SLA in the header. Blind labelling and escaping hold throughout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.html import escape

from labeling.models import Lease, ReviewItem
from labeling.pages.population import population_table
from review import services as review_services
from review.models import CleanLabel
from review.pages.analyst_screen import EarlierDecisions, earlier_decisions
from supportability.models import PolicyCategory, PolicyVersion
from tests.clients import logged_in
from tests.factories import (
    LeaseFactory,
    MerchantFactory,
    ReviewItemFactory,
    clean_label,
    label_through_services,
)

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fresh_population_cache():
    cache.clear()
    yield
    cache.clear()


def _claimed_screen(user):
    """Claim the next item as `user` and return the review screen (the full page)."""
    client = logged_in(user)
    client.post("/queue/next/", **HX)
    response = client.get("/queue/")
    assert response.status_code == 200
    assert Lease.objects.filter(holder=user, outcome=Lease.Outcome.ACTIVE).exists()
    return response.content.decode()


def _screen(user, **item):
    """Queue one item (factory overrides `item`), claim it as `user`, return the screen."""
    ReviewItemFactory(**item)
    return _claimed_screen(user)


def _section(html, element_id):
    """The HTML of the element with `element_id`, to its closing tag (no nesting of the
    same tag inside the ones the tests read)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"#{element_id} is not on the page"
    return match.group(2)


def test_policy_text_and_version_of_the_predicted_category_are_beside_the_form(analyst):
    html = _screen(analyst)  # the factory's score predicts pseudo-pharmaceuticals
    predicted = PolicyCategory.objects.get(slug="pseudo-pharmaceuticals")
    current = PolicyVersion.objects.get(is_current=True)
    assert f"version {current.version}" in _section(html, "policy-version")
    block = _section(html, "policy-predicted")
    assert predicted.name in block and escape(predicted.description) in block
    # the policy panel sits in the decision column, after the form
    assert html.index('id="label-form"') < html.index('id="policy-panel"')


def test_each_assignable_category_has_its_policy_text_on_the_page_hidden(analyst):
    html = _screen(analyst, merchant__name="Plain Shop")
    options = re.findall(r'<div class="policy-option" data-category="([^"]+)" hidden>', html)
    assignable = set(PolicyCategory.objects.filter(assignable=True).values_list("slug", flat=True))
    assert set(options) == assignable
    assert escape(PolicyCategory.objects.get(slug="gambling").description) in html


def test_the_category_typed_back_after_an_error_shows_its_policy_text(analyst):
    ReviewItemFactory()
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get()
    response = client.post(
        f"/queue/items/{lease.item_id}/label/",
        {"lease": str(lease.token), "decision": "restricted", "category": "gambling",
         "rationale": "", "idempotency_key": "k-1"},
        **HX,
    )  # fmt: skip
    assert response.status_code == 400
    assert '<div class="policy-option" data-category="gambling">' in response.content.decode()


def test_the_mcc_is_decoded_to_its_name(analyst):
    html = _screen(analyst, merchant__mcc="7995")
    assert "Betting" in _section(html, "merchant-mcc")


def test_an_unknown_mcc_says_why_it_has_no_name(analyst):
    html = _screen(analyst, merchant__mcc="0000")
    assert "name unknown: not in the ISO 18245 or network lists" in html


def test_the_website_is_a_link_that_opens_a_new_tab_without_an_opener(analyst):
    html = _screen(analyst, merchant__url="https://glow.example/shop?a=1&b=2")
    link = re.search(r'<a id="merchant-url"[^>]*>', html).group(0)
    assert 'href="https://glow.example/shop?a=1&amp;b=2"' in link
    assert 'target="_blank"' in link and 'rel="noopener noreferrer"' in link


def test_a_website_that_is_not_http_is_shown_as_text_not_linked(analyst):
    merchant = MerchantFactory()
    # Stored before intake checked the scheme: the page must not make it a link.
    type(merchant).objects.filter(pk=merchant.pk).update(url="javascript:alert(1)")
    html = _screen(analyst, merchant=merchant)
    assert 'id="merchant-url"' not in html and 'href="javascript' not in html
    assert 'javascript:alert(1)</span> <span class="muted">(not linked' in html


def test_numeric_signals_show_population_percentiles_and_what_they_are_based_on(analyst):
    for rate in (0.01, 0.02, 0.03):
        MerchantFactory(refund_rate=rate)
    html = _screen(analyst, merchant__refund_rate=0.09)
    row = re.search(r'<tr data-feature="refund_rate">(.*?)</tr>', html, re.S).group(1)
    assert "Refund rate" in row and "9.0%" in row and "99th percentile" in row
    assert "Percentiles among 4 merchants" in _section(html, "percentile-basis")
    row = re.search(r'<tr data-feature="cnp_share">(.*?)</tr>', html, re.S).group(1)
    assert "Card-not-present share" in row and "cnp_share" not in row


def test_the_signal_effect_is_shown_in_words_and_arrows_not_colour_alone(analyst):
    html = _screen(analyst)  # the factory's explanation: dispute rate +0.4
    row = re.search(r'<tr data-feature="dispute_rate">(.*?)</tr>', html, re.S).group(1)
    assert "▲" in row and "raised the score (+0.40)" in row


def test_a_legend_says_what_the_marks_mean(analyst):
    html = _screen(analyst, merchant__name="Legend Co")
    legend = _section(html, "evidence-legend")
    assert "raised the model" in legend and "percentile" in legend and "lowered" in legend


def test_explanation_terms_are_highlighted_in_place_in_the_merchant_text(analyst):
    html = _screen(
        analyst,
        merchant__description="Research peptides, shipped fast.",
        score__explanation={"terms": [["peptides", 1.2], ["for", 0.9]], "features": []},
    )
    description = _section(html, "merchant-description")
    assert re.search(
        r'Research <mark class="hl" data-rank="1"[^>]*>peptides</mark>, shipped', description
    )
    assert "filler" in _section(html, "terms-note")  # "for" is left out, and said so


def test_xss_payloads_in_the_text_and_in_a_term_render_inert(analyst):
    payload = "<img src=x onerror=alert(1)>"
    html = _screen(
        analyst,
        merchant__description=f"Buy {payload} peptides <script>alert(2)</script> now",
        merchant__website_text='"><svg onload=alert(3)> peptides',
        score__explanation={
            "terms": [["peptides", 1.0], ["<script>alert(2)</script>", 0.8], ["img src", 0.5]],
            "features": [],
        },
    )
    assert "<img src=x" not in html and "<script>alert(" not in html and "<svg" not in html
    description = _section(html, "merchant-description")
    unmarked = re.sub(r"</?mark[^>]*>", "", description)
    assert "Buy &lt;img src=x onerror=alert(1)&gt; peptides &lt;script&gt;alert(2)" in unmarked
    assert '<mark class="hl" data-rank="1"' in description  # peptides is still marked
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in _section(html, "model-terms")


def test_a_hidden_score_item_shows_no_highlights_and_no_predicted_category(analyst):
    html = _screen(analyst, score_hidden=True, merchant__description="Research peptides.")
    assert '<mark class="hl"' not in _section(html, "merchant-description")
    assert 'id="policy-predicted"' not in html
    assert "Pseudo-pharmaceuticals</h3>" not in html
    assert "held back on this item" in html


def test_a_hidden_score_item_does_not_say_why_the_merchants_other_items_were_queued(analyst):
    """Why an item was drawn (risk, uncertainty...) is the model's view too."""
    from labeling.models import Queue

    merchant = MerchantFactory(name="Seen Twice")
    other_queue = Queue.objects.create(slug="second", name="Second")
    ReviewItemFactory(
        merchant=merchant,
        queue=other_queue,
        reason=ReviewItem.Reason.RISK,
        status=ReviewItem.Status.ESCALATED,
    )
    html = _screen(analyst, merchant=merchant, score_hidden=True)
    others = _section(html, "open-items")
    assert "Second" in others and "Risk sample" not in others


def test_the_header_shows_the_lease_and_the_age_against_the_queue_sla(analyst):
    item = ReviewItemFactory()
    ReviewItem.objects.filter(pk=item.pk).update(queued_at=item.queued_at - timedelta(hours=3))
    html = _claimed_screen(analyst)
    header = re.search(r'<header class="review-bar">(.*?)</header>', html, re.S).group(1)
    assert 'id="lease-status"' in header and "hx-post" in header and "Yours until" in header
    assert "Waiting 3 h of 24 h" in header


def test_an_item_past_its_sla_says_by_how_much(analyst):
    item = ReviewItemFactory()
    ReviewItem.objects.filter(pk=item.pk).update(queued_at=item.queued_at - timedelta(hours=26))
    html = _claimed_screen(analyst)
    assert re.search(r"id=\"item-sla\" class=\"sla breached\">.*SLA breached by 2 h</span>", html)


def test_other_open_items_show_their_queue_and_status_but_not_their_labels(make_user):
    ann, bob, cat = (make_user("analyst", username=n) for n in ("ann", "bob", "cat"))
    merchant = MerchantFactory(name="Twice Seen")
    earlier = ReviewItemFactory(merchant=merchant, required_labels=2)
    label_through_services(ann, earlier, "prohibited", "weapons", "SECRET-ANN-RATIONALE")
    label_through_services(bob, earlier, "supportable", "none", "SECRET-BOB-RATIONALE")
    earlier.refresh_from_db()
    assert earlier.status == ReviewItem.Status.ESCALATED
    # The clean labels refreshed meanwhile: an estimate from the two blind labels exists,
    # and must not show while a lead has not decided the dispute.
    review_services.clean_labels_refresh()
    html = _screen(cat, merchant=merchant)
    others = _section(html, "open-items")
    assert "General" in others and "Escalated to a lead" in others
    assert "SECRET-" not in html and "Weapons" not in others


def test_earlier_final_decisions_show_decision_category_rationale_and_source(make_user):
    ann, bob, cat = (make_user("analyst", username=n) for n in ("ann", "bob", "cat"))
    lead = make_user("lead", username="lea")
    merchant = MerchantFactory(name="Decided Before")
    earlier = ReviewItemFactory(merchant=merchant, required_labels=2)
    label_through_services(ann, earlier, "restricted", "gambling", "casino")
    label_through_services(bob, earlier, "supportable", "none", "games")
    lease = review_services.lead_claim(user=lead, work=review_services.Work.ADJUDICATE)
    review_services.adjudication_submit(
        user=lead,
        item_id=earlier.pk,
        lease_token=lease.token,
        data=review_services.Decided("restricted", "gambling", "Takes sports bets for cash."),
    )
    html = _screen(cat, merchant=merchant)
    decisions = _section(html, "earlier-decisions")
    assert "Restricted" in decisions and "Gambling" in decisions
    assert "Takes sports bets for cash." in decisions and "Lead adjudication" in decisions


def test_a_clean_label_that_counts_a_label_of_the_open_item_is_not_shown(make_user):
    ann, bob = make_user("analyst", username="ann"), make_user("analyst", username="bob")
    item = ReviewItemFactory(merchant__name="Half Labelled", required_labels=2)
    first = label_through_services(ann, item, "prohibited", "weapons", "SECRET-FIRST-LABEL")
    clean_label(
        item.merchant,
        decision="prohibited",
        category="weapons",
        source=CleanLabel.Source.ESTIMATE,
        label_ids=[first.pk],
    )
    html = _claimed_screen(bob)  # bob gets the same item for its second, blind label
    assert Lease.objects.get(holder=bob).item_id == item.pk
    assert "SECRET-FIRST-LABEL" not in html
    assert "No earlier final decision" in _section(html, "earlier-decisions")


def test_a_gold_item_shows_no_earlier_decisions(lead):
    from labeling import services

    merchant = MerchantFactory(name="Known Answer")
    answer = services.gold_create(
        actor=lead,
        merchant=merchant,
        data=services.LabelInput("prohibited", "weapons", "SECRET-GOLD-ANSWER", "k-gold"),
    )
    clean_label(merchant, decision="prohibited", category="weapons", source=CleanLabel.Source.GOLD)
    shown = earlier_decisions(item=ReviewItem.objects.get(gold=answer))
    assert shown.rows == []
    assert shown.none_reason == EarlierDecisions().none_reason  # the same words as any item


def test_the_similar_decisions_panel_is_in_the_evidence_column(analyst):
    html = _screen(analyst, merchant__name="Similar Co")
    evidence = html.split('class="evidence-column"')[1].split('class="decide-column"')[0]
    assert 'id="similar-decisions"' in evidence


def test_the_review_screen_runs_a_fixed_number_of_queries(analyst, django_assert_num_queries):
    ReviewItemFactory()
    client = logged_in(analyst)
    client.post("/queue/next/", **HX)
    population_table()  # kept in the cache between requests; computed once here
    client.get("/queue/")  # the session and the MCC table are warm from here on
    # 14: session, user, roles; the lease (item, merchant, queue, score in one); categories;
    # the decision side's undo offer and shortcuts (2); the queue counts (2); the evidence:
    # policy version, the merchant's other open items (2); similar decisions (1); the review
    # app's earlier decisions: adjudications and the clean label (2).
    with django_assert_num_queries(14):
        assert client.get("/queue/").status_code == 200


def test_a_gold_item_does_not_show_its_age_in_the_queue(analyst, lead):
    from labeling import services
    from labeling.pages.evidence import evidence
    from labeling.selectors import lease_for_review

    answer = services.gold_create(
        actor=lead,
        merchant=MerchantFactory(name="Old Gold"),
        data=services.LabelInput("prohibited", "weapons", "known", "k-gold"),
    )
    gold = ReviewItem.objects.get(gold=answer)
    ReviewItem.objects.filter(pk=gold.pk).update(queued_at=timezone.now() - timedelta(days=40))
    lease = LeaseFactory(item=gold, holder=analyst)
    shown = evidence(lease=lease_for_review(lease_id=lease.pk), user=analyst)["evidence"]
    assert shown.sla.text == "waiting 0 min of 24 h" and not shown.sla.breached
