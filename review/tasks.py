from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=1_800, time_limit=1_860)
def retrain(run_id: int) -> None:
    """Train, register, promote, rescore and re-prioritise for one queued run."""
    services.retrain_execute(run_id=run_id)
