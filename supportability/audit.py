"""The audit trail: one append-only event for every state change, written inside the
transaction of the change it records."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEvent


def audit_record(
    *,
    actor: Any,
    verb: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    merchant_id: int | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Write one audit event. Call it inside the service's transaction, so that the event
    exists if and only if the change does."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label or (user.get_username() if user is not None else "system"),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        merchant_id=merchant_id,
        before=before,
        after=after,
    )
