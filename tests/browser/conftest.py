"""A real chromium (Debian's, at /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# axe-core from the npm package that `make install` puts in node_modules/ (package-lock.json
# pins it): injected into the page from disk, never fetched from a CDN.
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
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


Violation = dict[str, Any]


@pytest.fixture
def axe() -> Callable[..., list[Violation]]:
    """`axe(page)` runs axe-core on the page as it is now and returns its violations (each
    with id, impact, help, helpUrl and nodes[].target). Open the page with bypass_csp=True:
    the script goes in as an inline <script>, which a strict Content-Security-Policy refuses."""
    if not AXE.exists():
        reason = f"needs axe-core at {AXE}: run `make install` (npm ci)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but this run {reason}")
        pytest.skip(reason)

    def run(page: Any, *, rules: Sequence[str] = ()) -> list[Violation]:
        page.add_script_tag(path=str(AXE))
        if not page.evaluate("typeof window.axe === 'object'"):
            raise AssertionError(
                "axe-core did not load (a Content-Security-Policy? open the page with "
                "bypass_csp=True)"
            )
        options: dict[str, Any] = {"resultTypes": ["violations"]}
        if rules:
            options["runOnly"] = {"type": "rule", "values": list(rules)}
        violations: list[Violation] = page.evaluate(
            "async (options) => (await window.axe.run(document, options)).violations", options
        )
        return violations

    return run


def axe_report(violations: Sequence[Violation]) -> str:
    """Violations in words for a failure message: rule, impact, what it asks, where."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:8]:
            detail = (node.get("any") or node.get("all") or node.get("none") or [{}])[0]
            lines.append(
                f"    at {' '.join(map(str, node['target']))}: {detail.get('message', '')}"
            )
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)
