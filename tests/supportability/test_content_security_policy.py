"""The Content-Security-Policy (settings.base, django-csp) is on every page, and nothing the
pages or templates hold needs more than it allows: no inline script (a JSON data block is
not one), no inline style, no event-handler attribute, no javascript: URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.access_matrix import TABLE
from tests.access_world import World, world_build
from tests.test_access_matrix import url_of

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


class InlineFinder(HTMLParser):
    """What script-src 'self' and style-src 'self' refuse in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.found.append(f"<style> at line {self.getpos()[0]}")
        for name, value in attrs:
            if name == "style":
                self.found.append(f'style="{value}" on <{tag}> at line {self.getpos()[0]}')
            elif re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"{name}= on <{tag}> at line {self.getpos()[0]}")
            elif (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{name}={value} on <{tag}> at line {self.getpos()[0]}")


def inline_content(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_template_has_nothing_inline_the_policy_refuses(template: Path) -> None:
    source = re.sub(r"{#.*?#}", "", template.read_text())  # comments may name a <style>
    assert inline_content(source) == []


def test_the_finder_finds_what_the_policy_refuses() -> None:
    page = (
        '<script>alert(1)</script><script type="application/json">{}</script>'
        '<script src="/static/a.js"></script><style>p{}</style><p style="color:red">'
        '<button onclick="go()"><a href="javascript:go()">'
    )
    assert len(inline_content(page)) == 5


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield world_build()
        transaction.set_rollback(True)


def pages() -> Iterator[Any]:
    """Every route of the access matrix that answers someone's GET with 200, as that one."""
    for key, route in TABLE.items():
        if route.api or "GET" not in route.expect:
            continue
        ok = [role for role, status in route.expect["GET"].items() if status == 200]
        role = next((r for r in ("anonymous", "analyst", "lead", "admin") if r in ok), None)
        if role:
            yield pytest.param(key, role, id=f"{key}|{role}")


def get_as(world: World, role: str, url: str) -> Any:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client.get(url)


def assert_policed_page(response: Any) -> None:
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == POLICY
    if response["Content-Type"].startswith("text/html"):
        assert inline_content(response.content.decode()) == []


@pytest.mark.parametrize(("key", "role"), list(pages()))
def test_page_carries_the_policy_and_nothing_it_refuses(world: World, key: str, role: str):
    route = TABLE[key]
    assert_policed_page(get_as(world, role, url_of(key, route.args, world)))


def test_a_login_redirect_and_an_error_carry_the_policy(world: World):
    """Not only pages: whatever answers a browser has it (DEBUG's technical 404 and 500 pages
    excepted by django-csp, and DEBUG is off here)."""
    for response in (
        Client().get(reverse("review:dashboard")),  # 302 to the login page
        get_as(world, "analyst", reverse("review:dashboard")),  # 403
        get_as(world, "lead", "/no-such-page/"),  # 404
    ):
        assert directives(response["Content-Security-Policy"]) == POLICY, response.status_code


def test_api_docs_load_their_start_up_script_from_their_own_url(world: World):
    page = get_as(world, "analyst", reverse("api-docs"))
    assert_policed_page(page)
    scripts = re.findall(r'<script src="([^"]+)"', page.content.decode())
    assert scripts[-1] == f"{reverse('api-docs')}?script="
    script = get_as(world, "analyst", scripts[-1])
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content


REGISTERED: list[Any] = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_admin_changelist_carries_the_policy_and_nothing_it_refuses(world: World, model: Any):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert_policed_page(get_as(world, "admin", url))
