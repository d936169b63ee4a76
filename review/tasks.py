"""Thin Celery tasks: fetch by id, call a service.

Retraining steps are outbox tasks (supportability.outbox): each takes an outbox message
id, runs its step's service once whatever the number of deliveries, heartbeats while it
runs, and its step writes the next step's message in the transaction that finishes it
(review.services.retrain_steps.handoff). Which service each step runs is composed in
review.chain. A step that raises anything but a transient database error ends its run
failed (the champion stays; a lead may retry). The periodic tasks below are beat's."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from supportability.outbox import outbox_task

from . import chain, services
from .services import retrain_runs

STEP = {"soft_time_limit": 1_800, "time_limit": 1_860}


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_snapshot(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_snapshot", run_id=run_id)


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_train(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_train", run_id=run_id)


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_evaluate(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_evaluate", run_id=run_id)


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_decide(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_decide", run_id=run_id)


@outbox_task(on_failure=chain.step_failed, **STEP)
def rescore_chunk(run_id: int, first_id: int, last_id: int, upto: int | None = None) -> None:
    """One chunk of the rescoring; the chunks of a run run on every worker at once."""
    chain.step_run(
        "review.tasks.rescore_chunk", run_id=run_id, first_id=first_id, last_id=last_id, upto=upto
    )


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_promote(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_promote", run_id=run_id)


@outbox_task(on_failure=chain.step_failed, **STEP)
def retrain_reprioritise(run_id: int) -> None:
    chain.step_run("review.tasks.retrain_reprioritise", run_id=run_id)


@outbox_task(soft_time_limit=1_800, time_limit=1_860)
def similar_index_refresh() -> None:
    """Rebuild the similar-decisions index from the clean labels (after a snapshot)."""
    services.similar_index_refresh()


@outbox_task(soft_time_limit=600, time_limit=660)
def rereview_crossed(before_id: int, after_id: int) -> None:
    """Second looks at decisions a newly promoted champion now contradicts."""
    services.rereview_crossed(before_id=before_id, after_id=after_id)


@outbox_task(soft_time_limit=600, time_limit=660)
def rereview_text_changed(merchant_ids: list[int]) -> None:
    """Second looks at decided merchants whose own words changed (the intake sends them)."""
    services.rereview_text_changed(merchant_ids=merchant_ids)


@outbox_task(soft_time_limit=600, time_limit=660)
def quality_compute_requested() -> None:
    """A lead's *Recompute now*."""
    services.quality_compute()


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def runs_recover() -> int:
    """Fail the retrainings whose worker died (beat, every 30 s)."""
    return len(retrain_runs.runs_recover())


@worker_ready.connect
def _recover_on_start(**kwargs: Any) -> None:
    retrain_runs.runs_recover()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def qa_audits_draw() -> int:
    """Draw new single labels for QA audit (beat, every minute)."""
    return services.qa_audits_draw()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def quality_compute() -> int:
    """Recompute agreement and analyst quality (beat, every 15 minutes)."""
    return services.quality_compute().pk


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def retrain_if_due() -> int | None:
    """Start a retraining when enough new labels have arrived (beat, every 5 minutes)."""
    run = retrain_runs.retrain_if_due()
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
