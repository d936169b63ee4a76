"""Login throttling and its audit trail (django-axes, configured in settings/base.py).

Axes counts failed logins per username and per client IP; the 10th failure within 15
minutes locks both out for 15 minutes (a refused attempt does not extend it). This module
is axes' handler (`AXES_HANDLER`), so that every failure, lockout and refusal is written
to the audit trail in the same request, in a fixed order after axes recorded it: the
username tried and the IP, never the password. A lead unlocks with `login_unlock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..audit import audit_record

# Where the middleware keeps the moment of login (for the 12-hour absolute limit).
LOGIN_AT_KEY = "_login_at"


def _audit_attempt(verb: str, request: HttpRequest, username: str | None) -> None:
    ip_address = getattr(request, "axes_ip_address", None) or ""
    attempt = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .first()
    )
    if attempt is None:  # the attempts were cleared in between (an unlock): nothing to name
        return
    after: dict[str, Any] = {"username": username or "", "ip_address": ip_address}
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None:
        after["failures"] = failures
    audit_record(actor=None, verb=verb, target=attempt, after=after)


class AuditedAxesHandler(AxesDatabaseHandler):
    """Axes' database handler, writing an audit event for each failure and lockout."""

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        if request is None:
            super().user_login_failed(sender, credentials, request, **kwargs)
            return
        username = get_client_username(request, credentials)
        # The backend refused the attempt because it was locked out already: axes records
        # nothing, so that the lockout keeps its end time.
        refused = bool(getattr(request, "axes_locked_out", False))
        super().user_login_failed(sender, credentials, request, **kwargs)
        with transaction.atomic():
            if refused:
                _audit_attempt("login.refused_locked", request, username)
                return
            _audit_attempt("login.failed", request, username)
            if getattr(request, "axes_locked_out", False):
                _audit_attempt("login.lockout", request, username)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        session = getattr(request, "session", None)
        if session is not None:
            session[LOGIN_AT_KEY] = timezone.now().timestamp()


LOCKOUT_MESSAGE = (
    "Too many failed attempts: this account is locked for 15 minutes. A team lead can unlock it."
)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, saying why (AXES_LOCKOUT_CALLABLE). An unbound form: a bound
    one would authenticate again when the template reads its errors."""
    username = get_client_username(request, credentials) or ""
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "locked_out": True, "lockout_message": LOCKOUT_MESSAGE}
    return render(request, "registration/login.html", context, status=429)


@dataclass(frozen=True)
class Lockout:
    """A current lockout: of a username (from any address) or of an address (any name)."""

    kind: str  # "username" or "ip_address"
    value: str
    failures: int
    last_failure: datetime
    until: datetime


def logins_locked_out() -> list[Lockout]:
    """The usernames and addresses locked out now, newest first."""
    limit = int(settings.AXES_FAILURE_LIMIT)
    cool_off = settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off)
    lockouts = []
    for kind in ("username", "ip_address"):
        rows = (
            attempts.exclude(**{f"{kind}__isnull": True})
            .values(kind)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=limit)
        )
        lockouts += [
            Lockout(kind, row[kind], row["failures"], row["last"], row["last"] + cool_off)
            for row in rows
        ]
    return sorted(lockouts, key=lambda lockout: lockout.last_failure, reverse=True)


@transaction.atomic
def login_unlock(*, actor: Any, username: str = "", ip_address: str = "") -> int:
    """Clear the failed attempts of a username, or of an address, so that it may log in
    again. Returns how many attempt records were cleared (0: nothing was locked)."""
    if bool(username) == bool(ip_address):
        raise ValueError("name either a username or an address to unlock")
    match = Q(username=username) if username else Q(ip_address=ip_address)
    attempts = list(AccessAttempt.objects.select_for_update().filter(match).order_by("id"))
    if not attempts:
        return 0
    failures = sum(attempt.failures_since_start for attempt in attempts)
    AccessAttempt.objects.filter(pk__in=[attempt.pk for attempt in attempts]).delete()
    audit_record(
        actor=actor,
        verb="login.unlock",
        target=attempts[-1],
        before={"failures": failures},
        after={"username": username, "ip_address": ip_address},
    )
    return len(attempts)
