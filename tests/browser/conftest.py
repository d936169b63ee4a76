"""A real chromium (Debian's, at /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Screenshots go under var/ (ignored by git); `make screenshots` refreshes the ones in docs/.
SHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)


@pytest.fixture(autouse=True, params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    """Every browser test runs with DEBUG off, as in production, and on, as `make run` serves
    the app (Django's technical error pages; django-htmx adds a script of its own in DEBUG).
    pytest-django turns DEBUG off for tests; views and templates read it per request, and
    the live server runs in this process, so setting it here reaches the pages."""
    settings.DEBUG = request.param
    return request.param


@pytest.fixture(scope="module")
def _chromium():
    """One chromium per test module, started by the first test that needs it (after the
    autouse check that skips when there is none): starting one costs about 1.5 s."""
    started = {}
    yield started
    if started:
        started["browser"].close()
        started["playwright"].stop()


@pytest.fixture
def browser(_chromium):
    """The module's chromium. Each page a test opens (browser.new_page) has a context of its
    own, cookies and sessionStorage included, closed when the test ends."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    if not _chromium:
        # Playwright's sync API runs an event loop in this thread; the Django ORM calls made
        # by the test itself are still synchronous, so allow them.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        from playwright.sync_api import sync_playwright

        _chromium["playwright"] = sync_playwright().start()
        _chromium["browser"] = _chromium["playwright"].chromium.launch(
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
    chromium = _chromium["browser"]
    yield chromium
    for context in chromium.contexts:
        context.close()


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")


@pytest.fixture
def analyst_page(live_server, browser, analyst):
    """Analyst `ana` logged in on the queue page."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    login(page, live_server.url, analyst.username)
    page.wait_for_url(f"{live_server.url}/queue/")
    return page
