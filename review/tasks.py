from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=1_800, time_limit=1_860)
def retrain(run_id: int) -> None:
    """Train, register, promote, rescore and re-prioritise for one queued run."""
    services.retrain_execute(run_id=run_id)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def qa_audits_draw() -> int:
    """Draw new single labels for QA audit (beat, every minute)."""
    return services.qa_audits_draw()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def quality_compute() -> int:
    """Recompute agreement and analyst quality (beat, and a lead's click)."""
    return services.quality_compute().pk
