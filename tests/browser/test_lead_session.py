"""A real chromium: a lead reads the overview (two screens at most), opens a merchant's
timeline from it, and adjudicates a disagreement. The screenshots lead-overview.png and
merchant-timeline.png come from here."""

from __future__ import annotations

import re

import pytest

from review.models import Adjudication
from review.services import quality_compute
from tests.factories import UserFactory, escalated_item

from .conftest import SHOTS, axe_report, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

OK = ("supportable", "none")
BET = ("restricted", "gambling")
PILLS = ("prohibited", "pseudo-pharmaceuticals")
# Two screens at 1366x768.
TWO_SCREENS = 2 * 768

HISTORY = [(OK, OK), (BET, BET), (PILLS, PILLS), (OK, BET), (OK, OK), (BET, OK)]


def _serious(violations):
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_lead_reads_the_overview_opens_a_timeline_and_adjudicates(live_server, browser, axe):
    analysts = [UserFactory(username=name, role="analyst") for name in ("ana", "ben")]
    UserFactory(username="lea", role="lead")
    for index, answers in enumerate(HISTORY):
        escalated_item(analysts, list(answers), priority=0.1 + index / 100)
    item = escalated_item(
        analysts,
        [BET, OK],
        priority=0.99,
        merchant__name="Lucky Spin Arcade",
        merchant__external_id="M-1042",
    )
    quality_compute()
    base = live_server.url

    page = browser.new_page(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    login(page, base, "lea")
    page.wait_for_url(f"{base}/lead/")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= TWO_SCREENS, f"the overview is {height} px tall"
    assert page.locator("h1").count() == 1
    queues = page.inner_text("#queue-table")
    assert "General" in queues
    analysts_table = page.inner_text("#analyst-table")
    assert "ana" in analysts_table and "ben" in analysts_table
    assert page.locator("#trend-agreement svg.chart").count() == 1  # the day's quality run
    events = page.inner_text("#event-lines")
    assert re.search(r"analyst (ana|ben) labelled M-1042", events), events
    assert "{" not in events and "lease" not in events
    assert page.locator("#retrain").count() == 1
    assert not _serious(axe(page)), axe_report(_serious(axe(page)))
    page.screenshot(path=str(SHOTS / "lead-overview.png"), full_page=True)

    # The latest events name the merchant; its timeline is one link away in the audit trail.
    page.goto(f"{base}/lead/audit/?merchant=M-1042")
    page.click(f'#audit-table a[href="/lead/merchants/{item.merchant_id}/"] >> nth=0')
    page.wait_for_url(f"{base}/lead/merchants/{item.merchant_id}/")
    timeline = page.inner_text("#timeline")
    assert "analyst ana labelled M-1042 restricted: gambling" in timeline
    assert "Labelled supportable" in timeline
    assert page.locator("h1").count() == 1
    assert not _serious(axe(page)), axe_report(_serious(axe(page)))
    page.screenshot(path=str(SHOTS / "merchant-timeline.png"), full_page=True)

    # The disagreement, adjudicated from the lead's work page.
    page.goto(f"{base}/lead/work/")
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/lead/items/{item.pk}/")
    page.keyboard.press("1")  # uphold ana's label
    page.keyboard.type("Spin-to-win payouts: gambling without a licence shown.")
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    decided = Adjudication.objects.select_related("category").get(item=item)
    assert (decided.decision, decided.category.slug) == BET

    # The overview says so, in words.
    page.goto(f"{base}/lead/")
    assert "lead lea adjudicated M-1042: restricted: gambling" in page.inner_text("#event-lines")


def test_agreement_chart_labels_fit_and_negative_kappa_is_drawn(live_server, browser, axe):
    analysts = [UserFactory(username=name, role="analyst") for name in ("ana", "ben")]
    UserFactory(username="lea", role="lead")
    # The two always disagree on gambling: kappa below zero for that category.
    answers = [(BET, OK), (OK, BET), (BET, OK), (OK, OK), (PILLS, PILLS), (OK, BET)]
    for index, pair in enumerate(answers):
        escalated_item(analysts, list(pair), priority=0.1 + index / 100)
    quality_compute()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    login(page, base, "lea")
    page.goto(f"{base}/lead/agreement/")
    # Every name is inside its chart (none cut off at the left edge).
    lefts = page.evaluate(
        "[...document.querySelectorAll('svg.chart text.label')].map(t => t.getBBox().x)"
    )
    assert lefts and min(lefts) >= 0
    widths = page.evaluate(
        "[...document.querySelectorAll('#chart-categories rect.bar[data-value^=\"-\"]')]"
        ".map(r => r.getBBox().width)"
    )
    assert widths and min(widths) > 0  # negative kappa: a bar, left of zero
    assert page.locator("h1").count() == 1
    assert not _serious(axe(page)), axe_report(_serious(axe(page)))
