from __future__ import annotations

from django.http import HttpRequest

from .roles import Role, has_role


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "is_analyst": has_role(user, Role.ANALYST, Role.LEAD),
        "is_lead": has_role(user, Role.LEAD),
    }
