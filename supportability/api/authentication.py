"""`Authorization: Bearer <token>` for service users and analysts' own clients. Tokens are
looked up by the SHA-256 of the secret, so a database leak does not leak usable tokens.

Every API request pays for this, so it is two plain-SQL reads (token with its user, then the
user's groups, which also fill the role cache) rather than ORM queries: on the project's
2-core machine building one ORM query costs ~1.4 ms of CPU, ten times its round trip.

A token's use is an audit event (`token.used`: the method, path and client address of the
first request) at most once per 15 minutes (accounts.TOKEN_USE_WINDOW): the lookup also
says whether the window is open, so only the first request of a window writes. A revoked
token, or one whose user is inactive, is recorded as `token.refused` the same way, once per
window per token: only its real secret reaches that row. An unknown token is not recorded:
any client could send endless made-up ones, and there is no row to limit them by."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from supportability.models import ApiToken
from supportability.roles import roles_from
from supportability.services.accounts import TOKEN_USE_WINDOW, token_presented

LOOKUP = """
    SELECT t.id, t.name, t.scopes, t.revoked_at IS NOT NULL,
        t.last_used_at IS NULL OR t.last_used_at < %s,
        u.id, u.username, u.is_active, u.is_superuser, u.is_staff
    FROM supportability_apitoken t JOIN auth_user u ON u.id = t.user_id
    WHERE t.key_sha256 = %s
"""
GROUPS = """
    SELECT g.name FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
    WHERE ug.user_id = %s
"""


REFUSED = "Invalid or revoked token."


def _presented(
    request: Request, token_id: int, name: str, *, verb: str, actor: Any = None, reason: str = ""
) -> None:
    after = {
        "name": name,
        "method": request.method,
        "path": request.path[:500],
        "ip_address": get_client_ip_address(request._request) or "",
    }
    if reason:
        after["reason"] = reason
    token_presented(
        token_id=token_id,
        verb=verb,
        after=after,
        actor=actor,
        # A refused token signs no one in: the event is not a user's.
        actor_label="" if actor is not None else "unauthenticated",
    )


def _loaded(instance: Any) -> Any:
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        secret = header[1].decode(errors="replace")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        cutoff = connection.ops.adapt_datetimefield_value(timezone.now() - TOKEN_USE_WINDOW)
        with connection.cursor() as cursor:
            cursor.execute(LOOKUP, [cutoff, digest])
            row = cursor.fetchone()
            if row is None:
                raise exceptions.AuthenticationFailed(REFUSED)
            token_id, name, scopes, revoked, due, user_id, username, is_active = row[:8]
            is_superuser, is_staff = row[8:]
            if revoked or not is_active:
                if due:
                    reason = "revoked" if revoked else "user inactive"
                    _presented(request, token_id, name, verb="token.refused", reason=reason)
                raise exceptions.AuthenticationFailed(REFUSED)
            cursor.execute(GROUPS, [user_id])
            groups = {group for (group,) in cursor.fetchall()}
        user = _loaded(
            get_user_model()(
                id=user_id,
                username=username,
                is_active=is_active,
                is_superuser=is_superuser,
                is_staff=is_staff,
            )
        )
        user._supportability_roles = roles_from(groups, is_superuser=is_superuser)
        scopes = json.loads(scopes) if isinstance(scopes, str) else scopes
        token = _loaded(ApiToken(id=token_id, name=name, scopes=scopes, user_id=user_id))
        token.user = user
        if due:
            _presented(request, token_id, name, verb="token.used", actor=user)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
