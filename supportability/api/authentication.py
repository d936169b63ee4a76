"""`Authorization: Bearer <token>` for service users. Tokens are looked up by the SHA-256
of the secret, so a database leak does not leak usable tokens."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from supportability.models import ApiToken


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
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_sha256=digest, revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
