"""Users and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..audit import audit_record
from ..models import ApiToken
from ..roles import Role


@transaction.atomic
def user_create(
    *, username: str, role: Role, password: str | None = None, actor: Any = None
) -> tuple[AbstractUser, str]:
    """Create a user in one role, or put an existing one in it and reset the password.
    Returns the user and the password (generated when none is given)."""
    User = get_user_model()
    password = password or secrets.token_urlsafe(12)
    user, created = User.objects.get_or_create(username=username)
    if role == Role.ADMIN:
        user.is_superuser = True
        user.is_staff = True
    else:
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        verb="user.create" if created else "user.update",
        target=user,
        after={"username": username, "role": role.value},
    )
    return user, password


@transaction.atomic
def token_create(
    *, name: str, scopes: Sequence[str], actor: Any = None, user: Any = None
) -> tuple[ApiToken, str]:
    """Create a bearer token: for a new service user `svc-NAME`, or for an existing user
    (an analyst's own client, say), who keeps their role. The secret is returned once; only
    its SHA-256 is kept."""
    unknown = set(scopes) - set(ApiToken.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    if ApiToken.objects.filter(name=name).exists():
        raise ValueError(f"a token named {name!r} exists already")
    if user is None:
        username = f"svc-{name}"
        if get_user_model().objects.filter(username=username).exists():
            # Never take over an account (and reset its password) by naming a token after it.
            raise ValueError(f"a user named {username!r} exists already")
        user, _ = user_create(username=username, role=Role.SERVICE, actor=actor)
    secret = "sr_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name,
        user=cast(Any, user),
        prefix=secret[:10],
        key_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        scopes=sorted(set(scopes)),
    )
    audit_record(
        actor=actor,
        verb="token.create",
        target=token,
        after={
            "name": name,
            "prefix": token.prefix,
            "scopes": token.scopes,
            "user": user.get_username(),
        },
    )
    return token, secret


@transaction.atomic
def token_revoke(*, name: str, actor: Any = None) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(name=name)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            verb="token.revoke",
            target=token,
            after={"name": name, "prefix": token.prefix, "scopes": token.scopes},
        )
    return token


# A token's use is recorded once per window, with the first request of the window.
TOKEN_USE_WINDOW = timedelta(minutes=15)


def token_presented(
    *,
    token_id: int,
    verb: str,
    after: dict[str, Any],
    actor: Any = None,
    actor_label: str = "",
) -> bool:
    """Record that a token was presented (`token.used`, or `token.refused` for a revoked
    one) unless it was already recorded in the last TOKEN_USE_WINDOW; the caller reads
    last_used_at with the token and calls this only when the window looks open (so a busy
    token costs no write). Returns whether this request recorded it.

    The conditional UPDATE claims the window: of two concurrent requests, the second one's
    UPDATE waits for the first's commit (PostgreSQL re-reads the row; SQLite's writers take
    turns), finds last_used_at inside the window and matches no row, so it writes nothing.
    """
    now = timezone.now()
    cutoff = now - TOKEN_USE_WINDOW
    with transaction.atomic():
        claimed = (
            ApiToken.objects.filter(pk=token_id)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff))
            .update(last_used_at=now)
        )
        if claimed:
            audit_record(
                actor=actor,
                actor_label=actor_label,
                verb=verb,
                target=ApiToken(pk=token_id),
                after=after,
            )
    return bool(claimed)
