"""A real chromium: an analyst labels two merchants with the keyboard and the lead's page,
open beside it, shows the labels arrive."""

from __future__ import annotations

import pytest

from labeling.models import Label
from tests.factories import ReviewItemFactory, UserFactory

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_analyst_labels_two_items_with_the_keyboard_and_lead_sees_them(live_server, browser):
    UserFactory(username="ana", role="analyst")
    UserFactory(username="lea", role="lead")
    ReviewItemFactory(priority=0.9, merchant__name="Peptide Research Supply")
    ReviewItemFactory(
        priority=0.6,
        merchant__name="Corner Bakery",
        merchant__website_text="<script>window.pwned = true</script> Fresh bread daily.",
    )
    base = live_server.url

    lead_page = browser.new_page()
    login(lead_page, base, "lea")
    lead_page.wait_for_url(f"{base}/lead/")
    lead_page.click("#recent-labels summary")  # the live table loads when opened
    lead_page.wait_for_selector("#labels:has-text('No labels yet')")

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    login(page, base, "ana")
    page.wait_for_url(f"{base}/queue/")
    url_before = page.url

    page.keyboard.press("n")
    page.wait_for_selector("#merchant-name:has-text('Peptide Research Supply')")
    page.keyboard.press("3")
    page.keyboard.press("c")
    page.select_option("#category", "pseudo-pharmaceuticals")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.type("Injectable peptides sold for human use.")
    page.screenshot(path=str(SHOTS / "review-flow.png"))
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#merchant-name:has-text('Corner Bakery')")
    assert "Labelled Peptide Research Supply as prohibited" in page.inner_text(".queue-bar")
    # Untrusted merchant text was shown as text, not run.
    assert "<script>window.pwned" in page.inner_text("#merchant-website")
    assert page.evaluate("window.pwned === undefined")

    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#claim-next")
    assert page.url == url_before  # no full page load: htmx swapped the item in place

    labels = list(
        Label.objects.order_by("id").values_list("merchant__name", "decision", "category__slug")
    )
    assert labels == [
        ("Peptide Research Supply", "prohibited", "pseudo-pharmaceuticals"),
        ("Corner Bakery", "supportable", "none"),
    ]
    # The lead's table polls: both labels appear without a reload, with who made them.
    lead_page.wait_for_selector("#labels-table tr:has-text('Corner Bakery')", timeout=30_000)
    table = lead_page.inner_text("#labels-table")
    assert "Peptide Research Supply" in table and "ana" in table
    lead_page.screenshot(path=str(SHOTS / "lead-labels.png"), full_page=True)
