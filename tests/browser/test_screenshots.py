"""The README's pictures, taken from the demo world `make run` serves (a smaller one), at a
laptop's 1366x768: an analyst's review screen, the lead's overview, a merchant's timeline
and an adjudication (the model's page is test_retrain_flow.py's). Each picture is also a
check that the page shows the demo's data. `make screenshots` writes them into docs/."""

from __future__ import annotations

import pytest

from labeling.models import ReviewItem
from review.demo.seeding import demo_seed
from review.models import CleanLabel

from .conftest import SHOTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture(params=[True], ids=["debug-on"])
def debug(request, settings):
    """Once, as `make run` serves the demo (DEBUG on): seeding the demo takes most of this
    test's time, and every other browser test runs with DEBUG off and on."""
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def demo():
    demo_seed(merchants=500, seed=7)


def _login(browser, base: str, username: str):
    page = browser.new_page(viewport=LAPTOP)
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-demo-pw")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_the_readme_pictures_show_the_demo(live_server, browser, demo):
    base = live_server.url

    analyst = _login(browser, base, "analyst")
    # The picture shows the model's side too: no item hides its score here.
    ReviewItem.objects.update(score_hidden=False)
    analyst.goto(f"{base}/queue/")
    analyst.keyboard.press("n")
    analyst.wait_for_selector("#label-form")
    assert analyst.inner_text("#merchant-name")
    form = analyst.locator("#label-form").bounding_box()
    assert form is not None and form["y"] + form["height"] <= LAPTOP["height"]
    analyst.screenshot(path=str(SHOTS / "review-screen.png"))

    lead = _login(browser, base, "lead")
    lead.goto(f"{base}/lead/")
    assert lead.locator("h1").count() == 1
    lead.screenshot(path=str(SHOTS / "lead-overview.png"), full_page=True)

    decided = CleanLabel.objects.order_by("-computed_at", "merchant_id").first()
    assert decided is not None, "the demo's history settles some merchants"
    lead.goto(f"{base}/lead/merchants/{decided.merchant_id}/")
    assert decided.merchant.name in lead.inner_text("h1")
    lead.screenshot(path=str(SHOTS / "merchant-timeline.png"))

    assert ReviewItem.objects.filter(status=ReviewItem.Status.ESCALATED).exists()
    lead.goto(f"{base}/lead/work/")
    lead.keyboard.press("n")
    lead.wait_for_url(f"{base}/lead/items/*/")
    assert lead.locator(".label-card").count() >= 1  # a disagreement, or an "unsure"
    lead.screenshot(path=str(SHOTS / "adjudication-screen.png"))
