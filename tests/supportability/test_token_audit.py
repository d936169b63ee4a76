"""API tokens in the audit trail: creation and revocation (name, prefix, scopes, never the
secret), use at most once per 15 minutes per token, and a revoked token's refusals limited
the same way; a made-up token is not recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from supportability.models import ApiToken, AuditEvent
from supportability.services import token_create, token_revoke
from supportability.services.accounts import TOKEN_USE_WINDOW, token_presented
from tests.clients import bearer

pytestmark = pytest.mark.django_db

SNAPSHOTS = "/api/v1/snapshots/"


def events(verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb).order_by("id"))


def test_creation_records_name_prefix_and_scopes_but_not_the_secret(lead):
    token, secret = token_create(name="trainer", scopes=["labels:read"], actor=lead)
    [event] = events("token.create")
    assert (event.actor_id, event.object_type, event.object_id) == (
        lead.pk,
        "supportability.apitoken",
        str(token.pk),
    )
    assert event.after == {
        "name": "trainer",
        "prefix": secret[:10],
        "scopes": ["labels:read"],
        "user": "svc-trainer",
    }
    assert secret not in str(event.after) and token.key_sha256 not in str(event.after)


def test_revocation_by_the_command_is_recorded_once():
    token, _ = token_create(name="trainer", scopes=["labels:read", "queue:work"])
    call_command("revoke_token", "trainer")
    call_command("revoke_token", "trainer")  # already revoked: nothing changes
    [event] = events("token.revoke")
    assert event.object_id == str(token.pk)
    assert event.after == {
        "name": "trainer",
        "prefix": token.prefix,
        "scopes": ["labels:read", "queue:work"],
    }


def test_use_is_recorded_once_a_window_with_its_first_request():
    token, secret = token_create(name="trainer", scopes=["labels:read"])
    client = bearer(secret)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get(SNAPSHOTS, REMOTE_ADDR="10.1.2.3").status_code == 200
        assert client.get(f"{SNAPSHOTS}?page_size=5").status_code == 200
    with time_machine.travel(start + TOKEN_USE_WINDOW - timedelta(seconds=1), tick=False):
        assert client.get(SNAPSHOTS).status_code == 200
    [first] = events("token.used")
    assert (first.actor_label, first.object_id) == ("svc-trainer", str(token.pk))
    assert first.after == {
        "name": "trainer",
        "method": "GET",
        "path": SNAPSHOTS,
        "ip_address": "10.1.2.3",
    }
    with time_machine.travel(start + TOKEN_USE_WINDOW + timedelta(seconds=1), tick=False):
        assert client.options(SNAPSHOTS, REMOTE_ADDR="10.9.9.9").status_code == 200
    assert len(events("token.used")) == 2
    second = events("token.used")[-1]
    assert (second.after["method"], second.after["ip_address"]) == ("OPTIONS", "10.9.9.9")
    token.refresh_from_db()
    assert token.last_used_at == start + TOKEN_USE_WINDOW + timedelta(seconds=1)


def test_a_window_claimed_by_another_request_is_not_recorded_again():
    # Two requests that both read an open window: the conditional UPDATE lets one through.
    token, _ = token_create(name="trainer", scopes=["labels:read"])
    after = {"name": "trainer", "method": "GET", "path": SNAPSHOTS, "ip_address": ""}
    assert token_presented(token_id=token.pk, verb="token.used", after=after) is True
    assert token_presented(token_id=token.pk, verb="token.used", after=after) is False
    assert len(events("token.used")) == 1


def test_each_token_has_its_own_window():
    _, one = token_create(name="one", scopes=["labels:read"])
    _, two = token_create(name="two", scopes=["labels:read"])
    for secret in (one, two, one, two):
        assert bearer(secret).get(SNAPSHOTS).status_code == 200
    assert sorted(e.after["name"] for e in events("token.used")) == ["one", "two"]


def test_a_revoked_token_is_refused_and_recorded_once_a_window():
    token, secret = token_create(name="trainer", scopes=["labels:read"])
    token_revoke(name="trainer")
    client = bearer(secret)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            assert client.get(SNAPSHOTS, REMOTE_ADDR="10.6.6.6").status_code == 401
    [event] = events("token.refused")
    assert event.actor_id is None and event.actor_label == "unauthenticated"
    assert event.object_id == str(token.pk)
    assert event.after == {
        "name": "trainer",
        "method": "GET",
        "path": SNAPSHOTS,
        "ip_address": "10.6.6.6",
        "reason": "revoked",
    }
    with time_machine.travel(start + TOKEN_USE_WINDOW + timedelta(seconds=1), tick=False):
        assert client.get(SNAPSHOTS).status_code == 401
    assert len(events("token.refused")) == 2
    assert events("token.used") == []


def test_a_token_of_an_inactive_user_is_refused_and_recorded():
    token, secret = token_create(name="trainer", scopes=["labels:read"])
    type(token.user).objects.filter(pk=token.user_id).update(is_active=False)
    assert bearer(secret).get(SNAPSHOTS).status_code == 401
    [event] = events("token.refused")
    assert event.after["reason"] == "user inactive"


def test_made_up_tokens_are_refused_without_an_event():
    for n in range(5):
        assert bearer(f"sr_made-up-{n}").get(SNAPSHOTS).status_code == 401
    assert events("token.refused") == [] and events("token.used") == []
    assert not ApiToken.objects.exclude(last_used_at=None).exists()
