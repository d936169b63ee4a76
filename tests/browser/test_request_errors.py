"""A real chromium: a submit that fails (the server's 500 or 503, a 413, a dropped
connection) leaves the screen, what was typed and the lease as they were, says so beside the
form, and the next try goes through. In DEBUG as in production (the `debug` fixture)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

import labeling.services
import review.services
from labeling.models import Label, Lease
from review.models import Adjudication
from tests.factories import ReviewItemFactory, UserFactory, escalated_item

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

RATIONALE = "Injectable peptides sold for human use."


def _fail(*args, **kwargs):
    raise RuntimeError("a bug in the service")


def _database_lost(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def _assert_screen_kept(page, title: str, rationale: str) -> None:
    """Still the page it was, with its styles, its form and the text typed into it."""
    assert page.title() == title
    assert page.locator("header.topbar").count() == 1
    assert page.locator("link[rel=stylesheet][href*='app.css']").count() == 1
    assert page.input_value("#rationale") == rationale


def _failed_submit(page, form: str, says: str) -> None:
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"{form} .request-error[role=alert]:has-text({says!r})")


def test_a_failed_submit_keeps_the_screen_the_typing_and_the_lease(
    live_server, analyst_page, analyst, settings, monkeypatch
):
    settings.LEASE_SECONDS = 25  # a heartbeat every 5 s
    item = ReviewItemFactory(priority=0.9, merchant__name="Peptide Research Supply")
    ReviewItemFactory(priority=0.5, merchant__name="Corner Bakery")
    page = analyst_page
    title = page.title()
    page.keyboard.press("n")
    page.wait_for_selector("#merchant-name:has-text('Peptide Research Supply')")
    page.keyboard.press("3")
    page.select_option("#category", "pseudo-pharmaceuticals")
    page.keyboard.press("Escape")

    # Our own 400 fragment is swapped in: the field named, the choices kept.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".field-error[data-field=rationale]")
    assert page.is_checked("input[name=decision][value=prohibited]")
    # Focus went to the first field in error, and the error is tied to it.
    assert page.evaluate("document.activeElement.id") == "rationale"
    assert page.get_attribute("#rationale", "aria-invalid") == "true"
    page.keyboard.type(RATIONALE)

    monkeypatch.setattr(labeling.services, "label_submit", _fail)
    _failed_submit(page, "#label-form", "Not saved: the server failed (HTTP 500).")
    _assert_screen_kept(page, title, RATIONALE)
    monkeypatch.setattr(labeling.services, "label_submit", _database_lost)
    _failed_submit(page, "#label-form", "The database connection was lost")
    monkeypatch.undo()
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 150  # the heartbeat's body is smaller
    _failed_submit(page, "#label-form", "The request body is too large")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = limit
    csrf = [c for c in page.context.cookies() if c["name"] == "csrftoken"]
    page.context.clear_cookies(name="csrftoken")  # Django's CSRF page, a whole document
    _failed_submit(page, "#label-form", "Not saved: the server refused it (HTTP 403)")
    page.context.add_cookies(csrf)
    page.route("**/label/", lambda route: route.abort("connectionreset"))
    _failed_submit(page, "#label-form", "Not saved: the server could not be reached.")
    page.unroute("**/label/")
    page.locator("section.decide").screenshot(path=str(SHOTS / "request-error.png"))
    assert page.locator(".request-error").count() == 1  # one message, the latest
    assert "press Ctrl+Enter to try again" in page.inner_text(".request-error")
    _assert_screen_kept(page, title, RATIONALE)
    assert page.is_checked("input[name=decision][value=prohibited]")
    assert page.input_value("#category") == "pseudo-pharmaceuticals"

    # The heartbeat still runs and still holds the lease.
    held = Lease.objects.get(item=item, outcome=Lease.Outcome.ACTIVE).expires_at
    with page.expect_response(lambda r: "/heartbeat/" in r.url, timeout=10_000) as beat:
        pass
    assert beat.value.status == 204
    assert Lease.objects.get(item=item, outcome=Lease.Outcome.ACTIVE).expires_at > held

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#merchant-name:has-text('Corner Bakery')")
    assert page.locator(".request-error").count() == 0
    label = Label.objects.get()
    assert (label.item, label.decision, label.rationale) == (item, "prohibited", RATIONALE)


def test_a_failed_adjudication_keeps_the_screen_and_the_rationale(
    live_server, browser, monkeypatch
):
    analysts = [UserFactory(username=name, role="analyst") for name in ("ana", "ben")]
    lead = UserFactory(username="lea", role="lead")
    item = escalated_item(analysts, [("restricted", "gambling"), ("supportable", "none")])
    base = live_server.url
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    login(page, base, "lea")
    page.goto(f"{base}/lead/work/")
    page.keyboard.press("n")
    page.wait_for_url(f"{base}/lead/items/{item.pk}/")
    title = page.title()

    page.keyboard.press("1")  # uphold ana's label, but write no rationale yet
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")  # a 400: our fragment, with the field named
    page.wait_for_selector(".field-error[data-field=rationale]")
    assert page.input_value("#category") == "gambling"
    page.keyboard.press("w")
    page.keyboard.type("Sports odds without a licence.")

    monkeypatch.setattr(review.services, "adjudication_submit", _fail)
    _failed_submit(page, "#decide-form", "Not saved: the server failed (HTTP 500).")
    _assert_screen_kept(page, title, "Sports odds without a licence.")
    assert page.url == f"{base}/lead/items/{item.pk}/"
    assert page.is_checked("input[name=decision][value=restricted]")
    assert page.locator("#lease-status[hx-trigger]").count() == 1
    assert Lease.objects.filter(holder=lead, item=item, outcome=Lease.Outcome.ACTIVE).exists()
    key = f"draft:{lead.pk}:adjudicate:{item.pk}"
    assert page.evaluate("key => sessionStorage.getItem(key)", key) is not None

    monkeypatch.undo()
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert "Adjudicated" in page.inner_text("main")
    decided = Adjudication.objects.get(item=item)
    assert (decided.decision, decided.rationale) == ("restricted", "Sports odds without a licence.")
    assert page.evaluate("key => sessionStorage.getItem(key)", key) is None
