"""Thin Celery tasks: fetch by id, call a service. Retraining is a chain of them; every
step is idempotent (a redelivered step finds its run past it and does nothing), acks late,
is rejected back to the queue if its worker dies, and retries only database hiccups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import chain, group, shared_task
from celery.canvas import Signature
from django.db import InterfaceError, OperationalError

from . import services
from .services import retraining

TRANSIENT = (OperationalError, InterfaceError)
STEP = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "max_retries": 3,
    "soft_time_limit": 1_800,
    "time_limit": 1_860,
}


def _step(run_id: int, service: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a step; a failure that is not transient ends the run (the champion stays)."""
    try:
        return service(run_id=run_id, **kwargs)
    except TRANSIENT:
        raise
    except Exception as exc:
        retraining.retrain_failed(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(**STEP)
def retrain_snapshot(run_id: int) -> None:
    _step(run_id, retraining.retrain_snapshot)


@shared_task(**STEP)
def retrain_train(run_id: int) -> None:
    _step(run_id, retraining.retrain_train)


@shared_task(**STEP)
def retrain_evaluate(run_id: int) -> None:
    _step(run_id, retraining.retrain_evaluate)


@shared_task(**STEP)
def retrain_decide(run_id: int) -> None:
    _step(run_id, retraining.retrain_decide)


@shared_task(**STEP)
def retrain_rescore(run_id: int) -> None:
    """Fan the rescoring out: one task per chunk of merchants, on every worker at once."""
    chunks = retraining.rescore_chunks(run_id=run_id)
    group(rescore_chunk.si(run_id, lo, hi) for lo, hi in chunks).delay()


@shared_task(**STEP)
def rescore_chunk(run_id: int, first_id: int, last_id: int) -> None:
    last = _step(run_id, retraining.rescore_chunk, first_id=first_id, last_id=last_id)
    if last:  # the run row's lock let exactly one chunk see the end
        retrain_promote.delay(run_id)


@shared_task(**STEP)
def retrain_promote(run_id: int) -> None:
    _step(run_id, retraining.retrain_promote)


def retrain_chain(run_id: int) -> Signature:
    """snapshot → train (and calibrate) → evaluate → decide → rescore (fan-out) → promote.
    A step that finds the run held, failed or past it does nothing, so the rest is a no-op."""
    return chain(
        retrain_snapshot.si(run_id),
        retrain_train.si(run_id),
        retrain_evaluate.si(run_id),
        retrain_decide.si(run_id),
        retrain_rescore.si(run_id),
    )


def promote_chain(run_id: int) -> Signature:
    """A lead's promotion of a held candidate: rescore, then promote."""
    return retrain_rescore.si(run_id)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def qa_audits_draw() -> int:
    """Draw new single labels for QA audit (beat, every minute)."""
    return services.qa_audits_draw()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def quality_compute() -> int:
    """Recompute agreement and analyst quality (beat, and a lead's click)."""
    return services.quality_compute().pk


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def retrain_if_due() -> int | None:
    """Start a retraining when enough new labels have arrived (beat, every 5 minutes)."""
    run = retraining.retrain_if_due()
    return run.pk if run else None


@shared_task(acks_late=True, soft_time_limit=1_800, time_limit=1_860)
def noise_check() -> int:
    """Send uncertain estimates and labels the model confidently contradicts back for a
    fresh pair of eyes (beat, hourly): the clean labels first, so that settled re-reviews
    are counted."""
    services.clean_labels_refresh()
    return services.second_looks() + services.noise_check()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def queues_top_up() -> int:
    """Draw an active-learning round into each queue running low (beat, every 5 min)."""
    return services.queues_top_up()
