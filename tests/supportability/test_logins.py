"""Login throttling (django-axes), its audit trail, a lead's unlock, and session lifetime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from supportability.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"
LOCKED = "Too many failed attempts: this account is locked for 15 minutes."


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> Any:
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def _fail(client: Client, username: str, times: int, ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        _login(client, username, "wrong-password", ip)


def _logged_in(client: Client) -> bool:
    return client.get(reverse("review:dashboard")).status_code == 200


def test_nine_failures_still_let_the_right_password_in(make_user: Any) -> None:
    make_user("lead", username="lea")
    client = Client()
    _fail(client, "lea", 9)
    response = _login(client, "lea", PASSWORD)
    assert response.status_code == 302
    assert _logged_in(client)


def test_the_tenth_failure_locks_and_the_right_password_is_refused(make_user: Any) -> None:
    make_user("lead", username="lea")
    client = Client()
    _fail(client, "lea", 9)
    tenth = _login(client, "lea", "wrong-password")
    assert tenth.status_code == 429
    assert LOCKED in tenth.content.decode()
    right = _login(client, "lea", PASSWORD)  # the 11th attempt
    assert right.status_code == 429
    assert "A team lead can unlock it." in right.content.decode()
    assert not _logged_in(client)


def test_a_lead_unlocks_and_the_right_password_works(make_user: Any) -> None:
    make_user("analyst", username="ana")
    lead = make_user("lead", username="boss")
    _fail(Client(), "ana", 10)
    lead_client = Client()
    lead_client.force_login(lead)
    page = lead_client.get(reverse("review:logins"))
    assert "user ana" in page.content.decode()
    response = lead_client.post(reverse("review:logins"), {"username": "ana"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="login.unlock")
    assert event.actor == lead
    assert event.after == {"username": "ana", "ip_address": ""}
    client = Client()
    assert _login(client, "ana", PASSWORD).status_code == 302


def test_an_analyst_cannot_unlock(make_user: Any) -> None:
    analyst = make_user("analyst", username="ana")
    client = Client()
    client.force_login(analyst)
    assert client.post(reverse("review:logins"), {"username": "x"}).status_code == 403


def test_an_address_is_locked_across_usernames(make_user: Any) -> None:
    make_user("analyst", username="ana")
    client = Client()
    for n in range(10):
        _login(client, f"guess{n}", "wrong-password", ip="10.9.9.9")
    assert _login(client, "ana", PASSWORD, ip="10.9.9.9").status_code == 429
    # The same account from another address is not locked: only one failure was its own.
    assert _login(Client(), "ana", PASSWORD, ip="10.1.1.1").status_code == 302


def test_failures_and_the_lockout_are_audited_without_the_password(make_user: Any) -> None:
    make_user("analyst", username="ana")
    client = Client()
    _fail(client, "ana", 10)
    _login(client, "ana", PASSWORD)
    failed = AuditEvent.objects.filter(verb="login.failed")
    assert failed.count() == 10
    first = failed.earliest("id")
    assert first.after == {"username": "ana", "ip_address": "10.0.0.1", "failures": 1}
    assert AuditEvent.objects.filter(verb="login.lockout").count() == 1
    assert AuditEvent.objects.filter(verb="login.refused_locked").count() == 1
    for event in AuditEvent.objects.filter(verb__startswith="login."):
        assert "wrong-password" not in str(event.after)
        assert PASSWORD not in str(event.after)


def test_a_session_idle_for_31_minutes_is_logged_out(make_user: Any) -> None:
    make_user("lead", username="lea")
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _login(client, "lea", PASSWORD)
        assert _logged_in(client)
        clock.shift(timedelta(minutes=31))
        assert not _logged_in(client)


def test_a_session_ends_12_hours_after_login_even_when_active(make_user: Any) -> None:
    make_user("lead", username="lea")
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _login(client, "lea", PASSWORD)
        active = []
        for _ in range(12 * 4 + 1):  # a request every 15 minutes for 12 h 15 min
            clock.shift(timedelta(minutes=15))
            active.append(_logged_in(client))
    assert all(active[:48])  # still in at 12 h 0 min, never idle
    assert active[48] is False


def test_logout_makes_the_old_session_cookie_anonymous(make_user: Any) -> None:
    make_user("lead", username="lea")
    client = Client()
    _login(client, "lea", PASSWORD)
    old_cookie = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    replay = Client()
    replay.cookies["sessionid"] = old_cookie
    assert not _logged_in(replay)
