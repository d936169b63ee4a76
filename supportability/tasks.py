"""The outbox relay's beat tick, and the catch-up when a worker starts: whatever was
written while no worker (or no broker) was there is published at once. The audit trail's
sealer and its hourly verification."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.contrib.auth import get_user_model

from .audit.sealing import audit_seal
from .models import AuditVerification
from .outbox import outbox_relay, outbox_task
from .services.audit_checks import audit_verify


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def outbox_relay_tick() -> int:
    """Publish what is due (beat, every few seconds)."""
    return outbox_relay().published


@worker_ready.connect
def _catch_up(**kwargs: Any) -> None:
    outbox_relay()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def audit_seal_tick() -> int:
    """Seal the committed audit events and checkpoint the head (beat, every 5 seconds).
    A tick that finds another sealer running returns at once."""
    return audit_seal().sealed


@shared_task(acks_late=True, soft_time_limit=1_800, time_limit=1_860)
def audit_verify_tick() -> bool:
    """Verify the whole chain against the checkpoints (beat, hourly)."""
    return audit_verify()[0].intact


@outbox_task(soft_time_limit=1_800, time_limit=1_860)
def audit_verify_requested(user_id: int) -> None:
    """A lead's "Verify now"."""
    user = get_user_model().objects.filter(pk=user_id).first()
    audit_verify(trigger=AuditVerification.Trigger.LEAD, requested_by=user)
