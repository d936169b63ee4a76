"""A real chromium: a lead adjudicates a disagreement with the keyboard alone, then reads
the agreement page. The screenshots in docs/ come from here (`make screenshots`)."""

from __future__ import annotations

import pytest

from labeling.models import Label
from review.models import Adjudication
from review.services import (
    Work,
    lead_claim,
    qa_audit_record,
    qa_audits_draw,
    quality_compute,
    review_settings_update,
)
from tests.factories import ReviewItemFactory, UserFactory, escalated_item, label_through_services

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

OK = ("supportable", "none")
BET = ("restricted", "gambling")
PILLS = ("prohibited", "pseudo-pharmaceuticals")

# Three analysts' independent answers on a few double-labelled items, for the agreement
# page: mostly supportable and agreed, as in real queues.
HISTORY = [
    (0, 1, OK, OK), (0, 1, OK, OK), (1, 2, OK, OK), (0, 2, BET, BET), (1, 2, PILLS, PILLS),
    (0, 1, OK, OK), (0, 2, OK, BET), (1, 2, OK, OK), (0, 1, PILLS, PILLS), (1, 2, BET, OK),
    (0, 2, OK, OK), (0, 1, BET, BET),
]  # fmt: skip


def _audit_history(analysts) -> None:
    """Each analyst's single labels audited by another lead: one of cy's two overturned."""
    auditor = UserFactory(username="auditor", role="lead")
    review_settings_update(
        actor=auditor, audit_rate=1, audit_floor=1, audit_cap=1, four_eyes=["adult-content"]
    )
    for analyst in analysts:
        for _ in range(2):
            label_through_services(analyst, ReviewItemFactory.create(priority=0.05), *OK)
    qa_audits_draw()
    overturn = True
    while (lease := lead_claim(user=auditor, work=Work.AUDIT)) is not None:
        wrong = overturn and Label.objects.get(item_id=lease.item_id).analyst.username == "cy"
        overturn = overturn and not wrong
        qa_audit_record(
            user=auditor,
            item_id=lease.item_id,
            lease_token=lease.token,
            agree=not wrong,
            rationale="checked the site",
            decision="restricted" if wrong else "",
            category_slug="gambling" if wrong else "",
        )
    review_settings_update(
        actor=auditor,
        audit_rate=0.1,
        audit_floor=0.02,
        audit_cap=0.5,
        four_eyes=["adult-content", "sanctioned-jurisdictions"],
    )


def test_lead_adjudicates_a_disagreement_with_the_keyboard(live_server, browser):
    analysts = [UserFactory(username=name, role="analyst") for name in ("ana", "ben", "cy")]
    UserFactory(username="lea", role="lead")
    for index, (a, b, first, second) in enumerate(HISTORY):
        escalated_item([analysts[a], analysts[b]], [first, second], priority=0.1 + index / 100)
    item = escalated_item(
        analysts[:2],
        [BET, OK],
        priority=0.99,
        merchant__name="Lucky Spin <script>window.pwned = true</script> Arcade",
        merchant__description="Spin-to-win prizes and sports odds, paid out in vouchers.",
    )
    _audit_history(analysts)
    quality_compute()
    base = live_server.url

    page = browser.new_page(viewport={"width": 1500, "height": 950})
    login(page, base, "lea")
    page.goto(f"{base}/lead/work/")
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/lead/items/{item.pk}/")
    name = page.inner_text("#merchant-name")
    assert "<script>window.pwned = true</script>" in name  # shown as text, not run
    assert page.evaluate("window.pwned === undefined")
    cards = page.locator(".label-card")
    assert cards.count() == 2
    assert "Restricted" in cards.nth(0).inner_text() and "ana" in cards.nth(0).inner_text()
    assert "Supportable" in cards.nth(1).inner_text() and "ben" in cards.nth(1).inner_text()

    page.keyboard.press("1")  # uphold ana's label: decision and category filled in
    assert page.input_value("#category") == "gambling"
    assert page.is_checked("input[name=decision][value=restricted]")
    page.keyboard.type("Sports odds and spin-to-win payouts: gambling without a licence shown.")
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    # On to the next escalation, claimed for us, with word of the decision just made.
    assert page.url != f"{base}/lead/items/{item.pk}/"
    assert "Adjudicated Lucky Spin" in page.inner_text("main")

    decided = Adjudication.objects.select_related("category", "upheld_label").get(item=item)
    assert (decided.decision, decided.category.slug) == ("restricted", "gambling")
    assert decided.upheld_label.analyst.username == "ana"
    assert decided.status == Adjudication.Status.FINAL
    assert decided.rationale.startswith("Sports odds")

    with page.expect_navigation():
        page.keyboard.press("k")  # release the next one: it stays for another lead
    assert page.url == f"{base}/lead/work/"
    assert "Released" in page.inner_text("main")
    page.goto(f"{base}/lead/agreement/")
    assert "ana · ben" in page.inner_text("#pairs")
    assert page.locator("svg.chart").count() == 2
    page.screenshot(path=str(SHOTS / "agreement-page.png"), full_page=True)
