from __future__ import annotations

from celery import shared_task

from . import services
from .services import sla


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def leases_expire() -> int:
    """The reaper: beat runs it every 30 s, so a lapsed lease is back within a minute."""
    return services.leases_expire()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sla_breaches_raise() -> int:
    """Beat runs it every minute: items past their queue's SLA move ahead, once."""
    return sla.sla_breaches_raise()
