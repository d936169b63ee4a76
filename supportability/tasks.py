"""The outbox relay's beat tick, and the catch-up when a worker starts: whatever was
written while no worker (or no broker) was there is published at once."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from .outbox import outbox_relay


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def outbox_relay_tick() -> int:
    """Publish what is due (beat, every few seconds)."""
    return outbox_relay().published


@worker_ready.connect
def _catch_up(**kwargs: Any) -> None:
    outbox_relay()
