"""Who may call what: a session user by role, or a token by scope (and its user's role)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from supportability.models import ApiToken
from supportability.roles import Role, has_role


def _token(request: Request) -> ApiToken | None:
    auth = request.auth
    return auth if isinstance(auth, ApiToken) else None


def allowed(request: Request, *, roles: tuple[Role, ...], scope: str) -> bool:
    """Session users need one of the roles. Token users need the scope, and their user must
    be a service account or hold one of the roles: a scope never lends a role."""
    token = _token(request)
    if token is not None:
        return scope in token.scopes and has_role(request.user, Role.SERVICE, *roles)
    return has_role(request.user, *roles)


class RoleOrScope(BasePermission):
    """Configure on a view with `required_roles` and `required_scope`."""

    message = "You do not have the role or token scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        return allowed(request, roles=view.required_roles, scope=view.required_scope)
