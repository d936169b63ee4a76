from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def leases_expire() -> int:
    """The reaper: beat runs it every 30 s, so a lapsed lease is back within a minute."""
    return services.leases_expire()
