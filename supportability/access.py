"""View guards: login, then role. Object checks (who holds a lease) live in services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from .roles import Role, has_role

View = Callable[..., HttpResponseBase]


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (for type checkers)."""

    htmx: HtmxDetails


def role_required(*roles: Role) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A fragment request after the session lapsed: send the whole page to
                    # the login form, not the login form into a fragment.
                    return HttpResponseClientRedirect(f"{resolve_url(settings.LOGIN_URL)}")
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
