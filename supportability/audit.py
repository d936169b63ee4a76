"""The audit trail: one append-only event for every state change, written inside the
transaction of the change it records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from .models import AuditEvent


def audit_event(
    *,
    actor: Any,
    verb: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    merchant_id: int | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """An unsaved event: `actor` is a user, or None / an anonymous user for the system."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=user,
        actor_label=actor_label or (user.get_username() if user is not None else "system"),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        merchant_id=merchant_id,
        before=before,
        after=after,
    )


def audit_record(**fields: Any) -> AuditEvent:
    """Write one audit event (arguments as `audit_event`). Call it inside the service's
    transaction, so that the event exists if and only if the change does."""
    event = audit_event(**fields)
    event.save()
    return event


def audit_record_many(events: Iterable[AuditEvent]) -> None:
    """Write the events of a bulk change in one statement per thousand."""
    AuditEvent.objects.bulk_create(list(events), batch_size=1_000)
