"""A real chromium under the Content-Security-Policy (settings.base): an analyst decides with
the keyboard and opens the API docs, a lead reads the overview, adjudicates, opens the audit
trail and the other lead pages, an admin opens the admin; the browser refuses nothing on the
way (no securitypolicyviolation event, no console message of one, no uncaught error)."""

from __future__ import annotations

from typing import Any

import pytest

from labeling.models import Label
from review.models import Adjudication
from review.services import quality_compute
from tests.factories import ReviewItemFactory, UserFactory, escalated_item

from .conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

# In every document before its own scripts: each refusal is reported to the test.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.cspViolation(
  `${e.effectiveDirective} refused ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
));
"""


class Refusals:
    """What the browser refused or failed on, for the page it watches."""

    def __init__(self, page: Any) -> None:
        self.found: list[str] = []
        page.expose_binding("cspViolation", lambda _source, text: self.found.append(text))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.found.append(f"console: {message.text}")


def watched_page(browser: Any) -> tuple[Any, Refusals]:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    return page, Refusals(page)


def test_the_watch_sees_an_inline_script_refused(live_server, browser):
    """The watch itself: a script injected inline is refused, and reported."""
    UserFactory(username="ana", role="analyst")
    page, refusals = watched_page(browser)
    login(page, live_server.url, "ana")
    page.wait_for_url(f"{live_server.url}/queue/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.append(s); }"
    )
    page.wait_for_function("() => true")  # one more turn of the page's event loop
    assert page.evaluate("window.ran === undefined")
    assert any("script-src" in text for text in refusals.found), refusals.found


def test_analyst_decides_with_the_keyboard_and_reads_the_api_docs(live_server, browser):
    UserFactory(username="ana", role="analyst")
    names = ["Merchant A", "Merchant B"]
    for n, name in enumerate(names):
        ReviewItemFactory(priority=1 - n / 10, merchant__name=name)
    base = live_server.url
    page, refusals = watched_page(browser)
    login(page, base, "ana")
    page.wait_for_url(f"{base}/queue/")

    page.keyboard.press("n")
    page.wait_for_selector(f"#merchant-name:has-text('{names[0]}')")
    page.keyboard.press("1")
    page.wait_for_selector("input[value=supportable]:checked")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"#merchant-name:has-text('{names[1]}')")
    assert Label.objects.get(item__merchant__name=names[0]).decision == "supportable"

    page.goto(f"{base}/queue/settings/")
    page.wait_for_selector("h1")
    # Swagger UI: its start-up script from the page's own URL, the schema fetched from ours.
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    assert "Supportability Review API" in page.inner_text(".swagger-ui .info")
    assert refusals.found == []


def test_lead_reads_adjudicates_and_audits(live_server, browser):
    analysts = [UserFactory(username=name, role="analyst") for name in ("ana", "ben")]
    UserFactory(username="lea", role="lead")
    item = escalated_item(
        analysts,
        [("restricted", "gambling"), ("supportable", "none")],
        merchant__name="Lucky Spin Arcade",
        merchant__external_id="M-1042",
    )
    quality_compute()
    base = live_server.url
    page, refusals = watched_page(browser)
    login(page, base, "lea")
    page.wait_for_url(f"{base}/lead/")
    page.wait_for_selector("#queue-table")

    page.goto(f"{base}/lead/work/")
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/lead/items/{item.pk}/")
    page.keyboard.press("1")  # uphold ana's label
    page.keyboard.type("Spin-to-win payouts: gambling without a licence shown.")
    page.keyboard.press("Escape")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert Adjudication.objects.get(item=item).decision == "restricted"

    page.goto(f"{base}/lead/audit/?merchant=M-1042")
    page.click(f'#audit-table a[href="/lead/merchants/{item.merchant_id}/"] >> nth=0')
    page.wait_for_url(f"{base}/lead/merchants/{item.merchant_id}/")
    for path in ("agreement/", "models/", "queues/", "logins/"):
        page.goto(f"{base}/lead/{path}")
        page.wait_for_selector("h1")
    assert refusals.found == []


def test_admin_opens_the_admin(live_server, browser):
    UserFactory(username="adm", role="admin")
    base = live_server.url
    page, refusals = watched_page(browser)
    login(page, base, "adm")
    page.goto(f"{base}/admin/")
    page.click("a[href='/admin/labeling/queue/']")
    page.wait_for_url(f"{base}/admin/labeling/queue/")
    page.goto(f"{base}/admin/auth/user/")
    page.wait_for_selector("#result_list")
    assert refusals.found == []
