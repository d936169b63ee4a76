"""A real chromium: an analyst labels two merchants with the keyboard and the lead's page,
open beside it, shows the labels arrive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labeling.models import Label
from tests.factories import ReviewItemFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Screenshots go under var/ (ignored by git); `make screenshots` refreshes the ones in docs/.
SHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)


@pytest.fixture
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls made by
    # the test itself are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")


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
    _login(lead_page, base, "lea")
    lead_page.wait_for_url(f"{base}/lead/")
    assert "No labels yet" in lead_page.inner_text("#labels")

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    _login(page, base, "ana")
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
    page.screenshot(path=str(SHOTS / "review-screen.png"))
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
    lead_page.wait_for_selector("#labels-table tr:has-text('Corner Bakery')", timeout=10_000)
    table = lead_page.inner_text("#labels-table")
    assert "Peptide Research Supply" in table and "ana" in table
    lead_page.screenshot(path=str(SHOTS / "lead-dashboard.png"), full_page=True)
