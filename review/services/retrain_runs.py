"""A retraining run's lifecycle around its steps (retraining.py): starting one, running it
inline, recovering one whose worker died, and a lead's retry.

A run is started by writing its first step's outbox message in the transaction that
creates it, so a lead's Retrain answers at once whether or not the broker is up; the run
shows "queued, waiting for workers" until a worker starts it. Every step running on a
worker heartbeats (supportability.outbox). A run whose running step has been silent for
RUN_STALE_SECONDS lost its worker (killed, out of memory, the machine gone): the beat and
every worker that starts recover it as failed, with the reason, and release the lock.
Waiting for a worker or for the broker is not silence: such a run waits, visibly, as long
as it takes. A lead can retry a failed run: it resumes at the step it stopped at, so the
snapshot, model version and scores it made are kept, never made twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from labeling.models import Label
from supportability.audit import audit_record
from supportability.models import OutboxMessage, TrainingRun
from supportability.outbox import outbox_drain, run_stale_after

from ..models import AgreementStat
from ..selectors import review_rules
from .errors import Conflict
from .retrain_steps import STEP_TASKS, _finish, handoff, retrain_failed


class RetrainBusy(Conflict):
    """A retraining is already queued or running."""


BUSY_MESSAGE = "A retraining is already queued or running."


@transaction.atomic
def retrain_start(*, actor: Any, enqueue: bool = True) -> TrainingRun:
    """Queue a retraining for the workers (or, with enqueue=False, for the caller to run
    with retrain_execute: its messages are kept from the relay). Never two at once: the
    database refuses a second active run."""
    runs_recover()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(requested_by=actor, step="queued")
    except IntegrityError as exc:
        raise RetrainBusy(BUSY_MESSAGE) from exc
    audit_record(actor=actor, verb="retrain.start", target=run, after={"status": run.status})
    handoff(run, "queued")
    if not enqueue:
        _keep_inline(run)
    return run


def _keep_inline(run: TrainingRun) -> None:
    """Messages with no available_at are never published: the caller runs them."""
    OutboxMessage.objects.filter(run=run, done_at__isnull=True).update(available_at=None)


def retrain_execute(
    *, run_id: int, progress: Callable[[TrainingRun], None] | None = None
) -> TrainingRun:
    """Run a retraining's steps in this process, one message at a time, in order (manage.py
    retrain, tests): the same messages and services the workers run; `progress` sees the
    run after each."""
    while True:
        ran = outbox_drain(run_id=run_id, limit=1, inline=True)
        run = TrainingRun.objects.get(pk=run_id)
        if progress is not None:
            progress(run)
        if not ran or not run.is_active:
            return run


def runs_recover(*, now: Any = None) -> list[TrainingRun]:
    """Fail the runs that lost their worker: a step was started and its heartbeat has been
    silent for RUN_STALE_SECONDS, with nothing else of the run alive or waiting; or the run
    holds the lock with nothing at all left to run it (a run from before the outbox). The
    beat runs this every 30 s, and every worker when it starts."""
    now = now or timezone.now()
    cutoff = now - run_stale_after()
    recovered = []
    with transaction.atomic():
        for run in TrainingRun.objects.select_for_update(skip_locked=True).filter(holds_lock=True):
            reason = _lost(run, cutoff)
            if reason:
                recovered.append(
                    _finish(
                        run, status=TrainingRun.Status.FAILED, message=reason, abandon_running=True
                    )
                )
    return recovered


def _lost(run: TrainingRun, cutoff: Any) -> str:
    open_messages = OutboxMessage.objects.filter(run=run, done_at__isnull=True)
    # Waiting for the relay or a worker. A message kept inline (manage.py retrain) is not
    # waiting for anyone once its command stopped: the run's heartbeat tells.
    waiting = open_messages.filter(started_at__isnull=True, available_at__isnull=False)
    alive = open_messages.filter(started_at__isnull=False, heartbeat_at__gte=cutoff)
    if waiting.exists() or alive.exists():
        return ""
    silent = open_messages.filter(started_at__isnull=False).aggregate(last=Max("heartbeat_at"))
    last = silent["last"]
    step = run.step or "queued"
    if last is not None:
        return (
            f"The worker running step '{step}' stopped (no heartbeat since"
            f" {last:%H:%M:%S} UTC): it was killed or lost its connection. Retry resumes"
            " at that step."
        )
    since = run.heartbeat_at or run.created_at
    if since >= cutoff:
        return ""  # between two steps, just now
    return (
        f"Nothing was left to run step '{step}' (last sign of life {since:%H:%M:%S} UTC)."
        " Retry resumes at that step."
    )


@transaction.atomic
def retrain_retry(*, actor: Any, run_id: int) -> TrainingRun:
    """A lead retries a failed run: it resumes at the step it stopped at (what it made
    before is kept), as a new attempt. Refused while another run is active."""
    run = TrainingRun.objects.select_for_update().get(pk=run_id)
    if run.status != TrainingRun.Status.FAILED:
        raise Conflict(f"Only a failed retraining can be retried; this one is {run.status}.")
    runs_recover()
    before = {"status": run.status, "step": run.step, "message": run.message}
    run.status = TrainingRun.Status.QUEUED
    run.holds_lock = True
    run.attempt += 1
    run.message = ""
    run.finished_at = None
    run.heartbeat_at = None
    try:
        with transaction.atomic():
            run.save(
                update_fields=[
                    "status",
                    "holds_lock",
                    "attempt",
                    "message",
                    "finished_at",
                    "heartbeat_at",
                ]
            )
    except IntegrityError as exc:
        raise RetrainBusy(BUSY_MESSAGE) from exc
    step = run.step if run.step in STEP_TASKS or run.step == "rescore" else "queued"
    handoff(run, step)
    audit_record(
        actor=actor,
        verb="retrain.retry",
        target=run,
        before=before,
        after={"status": run.status, "step": step, "attempt": run.attempt},
    )
    return run


def retrain_if_due(*, now: Any = None) -> TrainingRun | None:
    """The beat's trigger: retrain once enough labels arrived since the last snapshot a
    retraining took, if the analysts agree well enough for their labels to be worth it
    (the latest overall AC1). Never while another run is active (retrain_start's lock)."""
    rules = review_rules()
    last = (
        TrainingRun.objects.filter(snapshot__isnull=False)
        .order_by("-id")
        .values_list("snapshot__created_at", flat=True)
        .first()
    )
    new_labels = (
        Label.objects.filter(created_at__gt=last).count() if last else Label.objects.count()
    )
    if new_labels < rules.retrain_min_new_labels:
        return None
    overall = (
        AgreementStat.objects.filter(scope=AgreementStat.Scope.OVERALL)
        .order_by("-run_id")
        .values_list("ac1", flat=True)
        .first()
    )
    if overall is not None and overall < rules.retrain_min_agreement:
        return None
    try:
        return retrain_start(actor=None)
    except RetrainBusy:
        return None


__all__ = [
    "RetrainBusy",
    "retrain_execute",
    "retrain_failed",
    "retrain_if_due",
    "retrain_retry",
    "retrain_start",
    "runs_recover",
]
