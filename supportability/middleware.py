"""Request guards that sit in front of every view.

- An over-size body is refused with 413 before anything reads it (by its Content-Length;
  the API's parser also stops reading at the limit when no length was sent). Django's own
  check answers 400, and only once a form reads the body; DRF does not check at all.
- Under /api/ every error is JSON in the API's one shape, even where Django answered
  (an unknown URL, a server error, DEBUG's technical pages).
- A database connection lost mid-request (the server restarted, the backend was
  terminated, a failover) rolls the request's transaction back and answers 503: nothing
  was half-written, and the next request opens a fresh connection (CONN_HEALTH_CHECKS).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from .api.errors import DATABASE_LOST, error_body
from .api.parsers import too_large_message


def _answer(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(message, code), status=status)
    else:
        # Plain text: an htmx request shows it inline beside the form it came from, and a
        # full page shows it as it is.
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    if status == 503:
        response["Retry-After"] = "2"
    return response


_GENERIC: dict[int, tuple[str, str]] = {
    400: ("invalid", "The request could not be read."),
    401: ("not_authenticated", "Sign in, or send a token: Authorization: Bearer <token>."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "No such API endpoint."),
    4: ("invalid", "The request was refused."),
    5: ("error", "The server failed to answer this request."),
}


class RequestGuards:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = request.META.get("CONTENT_LENGTH") or ""
        if limit is not None and length.isdigit() and int(length) > limit:
            return _answer(request, 413, "too_large", too_large_message(int(length), limit))
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
            and not response.streaming
        ):
            code, message = (
                _GENERIC.get(response.status_code) or _GENERIC[response.status_code // 100]
            )
            return _answer(request, response.status_code, code, message)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return _answer(request, 503, "database_unavailable", DATABASE_LOST)
        return None


class SessionLifetime:
    """Ends a session idle for SESSION_IDLE_SECONDS (30 minutes) or older than
    SESSION_ABSOLUTE_SECONDS since its login (12 hours), even an active one: the session is
    flushed server side and the request goes on anonymous (a page then asks for a login).

    The last activity is written at most once a minute (SESSION_TOUCH_SECONDS), not on every
    request; each write also moves the session's own expiry (SESSION_COOKIE_AGE) on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.contrib.auth import logout
        from django.contrib.auth.models import AnonymousUser
        from django.utils import timezone

        from .services.logins import LOGIN_AT_KEY

        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            session = request.session
            login_at = session.setdefault(LOGIN_AT_KEY, now)
            seen_at = session.get("_seen_at", now)
            if (
                now - login_at > settings.SESSION_ABSOLUTE_SECONDS
                or now - seen_at > settings.SESSION_IDLE_SECONDS
            ):
                logout(request)
                request.user = AnonymousUser()
            elif now - seen_at >= settings.SESSION_TOUCH_SECONDS or "_seen_at" not in session:
                session["_seen_at"] = now
        return self.get_response(request)


class AccessDeniedAudit:
    """Records a 403 or 404 that a signed-in caller (a session or a token) got on a route
    naming an object as an `access.denied` audit event (supportability.services.
    request_audit). After AuthenticationMiddleware, so that the session's user is known;
    a token's user is the one DRF set while the view ran."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from .services.request_audit import access_denied_record

        response = self.get_response(request)
        access_denied_record(request, response)
        return response
