"""Rate limits on the API, per caller (DRF throttling): a service token and a person each
have their own budget, and past it the API answers 429 with `Retry-After`.

Rates are settings (`API_TOKEN_RATE`, `API_USER_RATE`, "N/period"). The counts live in
Django's cache: per process with the default local-memory cache, so with several web
workers a caller's effective limit is the rate times the workers; point `CACHES` at Redis
to share one count. Logins are throttled separately (django-axes), so anonymous requests
are not counted here: they are refused 401 before any throttle runs.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from supportability.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Requests made with a service token, counted per token."""

    scope = "token"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class UserRateThrottle(SimpleRateThrottle):
    """Requests made by a signed-in person (session or their own token), counted per user."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if isinstance(request.auth, ApiToken) or user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
