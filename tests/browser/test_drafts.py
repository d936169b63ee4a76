"""A real chromium: what the analyst chose and typed about an item is kept in the tab until
the label is accepted: through a reload, and through a lapsed session and a new log-in."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from labeling.models import Label
from tests.factories import ReviewItemFactory

from .conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

RATIONALE = "Sports odds and spin-to-win payouts, no licence shown."


def _type_a_decision(page) -> None:
    page.keyboard.press("n")
    page.wait_for_selector("#merchant-name:has-text('Lucky Spin')")
    page.keyboard.press("2")  # a key: the radio is set by script, without an input event
    page.keyboard.press("c")
    page.select_option("#category", "gambling")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.type(RATIONALE)


def _assert_decision_shown(page) -> None:
    page.wait_for_selector("#merchant-name:has-text('Lucky Spin')")
    assert page.is_checked("input[name=decision][value=restricted]")
    assert page.input_value("#category") == "gambling"
    assert page.input_value("#rationale") == RATIONALE


def _draft(page, key: str) -> str | None:
    return page.evaluate("key => sessionStorage.getItem(key)", key)


def test_a_draft_comes_back_after_a_reload_and_goes_once_the_label_is_accepted(
    analyst_page, analyst
):
    item = ReviewItemFactory(priority=0.9, merchant__name="Lucky Spin Arcade")
    ReviewItemFactory(priority=0.5, merchant__name="Corner Bakery")
    page = analyst_page
    _type_a_decision(page)
    page.reload()
    _assert_decision_shown(page)
    key = f"draft:{analyst.pk}:label:{item.pk}"
    assert _draft(page, key) is not None

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#merchant-name:has-text('Corner Bakery')")
    assert _draft(page, key) is None
    # The next item's form starts empty: no draft crosses to another item.
    assert page.locator("input[name=decision]:checked").count() == 0
    assert page.input_value("#category") == ""
    assert page.input_value("#rationale") == ""
    assert Label.objects.get().rationale == RATIONALE


def test_a_draft_survives_a_lapsed_session_and_a_new_log_in(live_server, analyst_page):
    item = ReviewItemFactory(priority=0.9, merchant__name="Lucky Spin Arcade")
    ReviewItemFactory(priority=0.5, merchant__name="Corner Bakery")
    page = analyst_page
    _type_a_decision(page)
    Session.objects.all().delete()  # the session ends on the server mid-typing

    page.keyboard.press("Control+Enter")  # htmx is told to load the login page
    page.wait_for_url(f"{live_server.url}/login/")
    login(page, live_server.url, "ana")
    page.wait_for_url(f"{live_server.url}/queue/")
    _assert_decision_shown(page)  # the same item: the lease outlived the session

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#merchant-name:has-text('Corner Bakery')")
    label = Label.objects.get()
    assert (label.item, label.decision, label.rationale) == (item, "restricted", RATIONALE)
