"""Roles are Django groups; admins are superusers and hold every role."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    ANALYST = "analyst"
    LEAD = "lead"
    SERVICE = "service"
    ADMIN = "admin"


def roles_from(group_names: set[str], *, is_superuser: bool) -> frozenset[str]:
    return frozenset(group_names | ({role.value for role in Role} if is_superuser else set()))


def user_roles(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_supportability_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = roles_from(names, is_superuser=user.is_superuser)
        user._supportability_roles = cached
    return cached


def has_role(user: Any, *roles: Role) -> bool:
    held = user_roles(user)
    return any(role.value in held for role in roles)


# Who may claim and label: analysts, and leads (who also review).
LABELLERS = (Role.ANALYST, Role.LEAD)
