"""Every URL pattern answers every role and method as tests/access_matrix.py declares, and
no route hands one user's object to another (the IDOR cases). A new route without an entry
fails test_every_url_pattern_has_an_entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from labeling.models import Label, Lease
from tests.access_matrix import ADMIN_LOGIN, IDOR, LOGIN, SKIPPED_PREFIXES, TABLE, Expect, Idor
from tests.access_world import ROLES, World, fresh_label, world_build
from tests.clients import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module inside a transaction that is rolled back at its end; each
    test runs in a savepoint on top of it, so the POSTs that succeed change nothing for the
    next test."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield world_build()
        transaction.set_rollback(True)


def url_patterns() -> dict[str, str]:
    """Every pattern of the root URLconf: its name (with namespaces) or, unnamed, its route."""
    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                found[f"{namespace}{pattern.name}" if pattern.name else route] = route

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_url_pattern_has_an_entry() -> None:
    patterns = url_patterns()
    skipped = {key for key in patterns if key.startswith(tuple(SKIPPED_PREFIXES))}
    missing = sorted(set(patterns) - skipped - set(TABLE))
    stale = sorted(set(TABLE) - set(patterns))
    assert not missing, f"URL patterns with no entry in tests/access_matrix.py: {missing}"
    assert not stale, f"entries in tests/access_matrix.py for no URL pattern: {stale}"


def test_every_object_route_has_an_idor_case() -> None:
    object_routes = {key for key, route in TABLE.items() if route.args}
    covered = {case.key for case in IDOR}
    assert not object_routes - covered, sorted(object_routes - covered)


_HANDLERS: dict[type, Any] = {}


def client_for(world: World, role: str, *, api: bool) -> Client:
    """A client for `role`: a bearer token, a session, or neither."""
    if role in world.secrets:
        return shared(bearer(world.secrets[role]))
    return session_for(None if role == "anonymous" else world.users[role], api=api)


def session_for(user: Any, *, api: bool) -> Client:
    client = APIClient() if api else Client()
    if user is not None:
        client.force_login(user)
    return shared(client)


def shared(client: Client) -> Client:
    """One request handler per client class: each new handler loads the middleware again,
    and WhiteNoise's scan of the static files then costs more than the request itself."""
    client.handler = _HANDLERS.setdefault(type(client), client.handler)
    return client


def send(client: Client, method: str, url: str, body: dict[str, Any], *, api: bool) -> Any:
    if method == "GET":
        response = client.get(url)
    elif method == "POST" and api:
        response = client.post(url, body, content_type="application/json")
    elif method == "POST":
        response = client.post(url, body)
    else:
        response = client.generic(method, url)
    if response.streaming:  # read it all: an error half way through a stream shows here
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response


def assert_answers(response: Any, expected: Expect) -> None:
    where = response.get("Location", "")
    if expected == LOGIN:
        login = resolve_url(settings.LOGIN_URL)
        assert (response.status_code, where.split("?")[0]) == (302, login)
    elif expected == ADMIN_LOGIN:
        assert (response.status_code, where.split("?")[0]) == (302, reverse("admin:login"))
    else:
        assert response.status_code == expected, where


def url_of(key: str, args: dict[str, str], world: World) -> str:
    if url_patterns().get(key) == key:  # an unnamed pattern: its route is its key
        return f"/{key}"
    return reverse(key, kwargs={kwarg: world.ids[name] for kwarg, name in args.items()})


def matrix_cases() -> Iterator[Any]:
    for key, route in TABLE.items():
        for method in route.expect:
            for role in ROLES:
                marks = []
                if (method, role) in route.known_bugs:
                    reason = route.known_bugs[(method, role)]
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                yield pytest.param(key, method, role, id=f"{key}|{method}|{role}", marks=marks)


@pytest.mark.parametrize(("key", "method", "role"), list(matrix_cases()))
def test_route_answers_role_and_method_as_declared(
    world: World, key: str, method: str, role: str
) -> None:
    route = TABLE[key]
    client = client_for(world, role, api=route.api)
    response = send(client, method, url_of(key, route.args, world), {}, api=route.api)
    assert_answers(response, route.expect[method][role])


def idor_params() -> Iterator[Any]:
    for case in IDOR:
        owner = next(iter(case.args.values()))
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(
            case, id=f"{case.key}|{case.method}|{case.actor}|{owner}|{case.expect}", marks=marks
        )


@pytest.mark.parametrize("case", list(idor_params()))
def test_object_route_refuses_what_is_not_yours(world: World, case: Idor) -> None:
    client = client_for(world, case.actor, api=case.api)
    url = url_of(case.key, case.args, world)
    response = send(client, case.method, url, case.body(world), api=case.api)
    assert_answers(response, case.expect)
    if case.kept:
        lease = Lease.objects.get(pk=world.leases[case.kept].pk)
        assert lease.outcome == Lease.Outcome.ACTIVE and lease.ended_at is None


def test_undo_of_another_analysts_label_is_refused(world: World) -> None:
    _, label = fresh_label(world, who="owner")
    response = client_for(world, "analyst", api=False).post(
        reverse("labeling:undo", kwargs={"label_id": label.pk})
    )
    assert response.status_code == 409
    assert Label.objects.filter(pk=label.pk).exists()  # an undo deletes the label


def test_undo_of_ones_own_label_goes_through(world: World) -> None:
    owner, label = fresh_label(world, who="self")
    response = session_for(owner, api=False).post(
        reverse("labeling:undo", kwargs={"label_id": label.pk})
    )
    assert response.status_code == 302
    assert not Label.objects.filter(pk=label.pk).exists()
