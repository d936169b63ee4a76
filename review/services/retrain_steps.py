"""The retraining chain's steps as data, and what every step shares: the order of the
steps, the task that runs each (by name: nothing here imports the tasks), the handoff
that queues the next step in the transaction that finishes one, and how a run ends.

A leaf of review.services: the steps (retraining.py), the run's lifecycle
(retrain_runs.py) and a lead's promotion (candidates.py) import it, and it imports none of
them, so the chain has no import circle. Which service runs each step is composed in
review.chain, which only review.tasks imports.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from supportability.audit import audit_record
from supportability.models import Merchant, OutboxMessage, TrainingRun
from supportability.outbox import outbox_write

# The name the models trained here are registered under.
DEMO_MODEL_NAME = "supportability-demo"
# Merchants per scoring task; the chunks of one rescoring run on every worker at once.
RESCORE_CHUNK = 20_000
STEPS = (
    "queued",
    "snapshot",
    "train",
    "evaluate",
    "decide",
    "rescore",
    "promote",
    "reprioritise",
    "done",
)
# The task that runs each step (review.tasks), by the step it resumes at.
STEP_TASKS = {
    "queued": "review.tasks.retrain_snapshot",
    "snapshot": "review.tasks.retrain_snapshot",
    "train": "review.tasks.retrain_train",
    "evaluate": "review.tasks.retrain_evaluate",
    "decide": "review.tasks.retrain_decide",
    "promote": "review.tasks.retrain_promote",
    "reprioritise": "review.tasks.retrain_reprioritise",
}
RESCORE_TASK = "review.tasks.rescore_chunk"
# Follow-ups beside the chain (not steps: their failure does not fail the run).
SIMILAR_INDEX_TASK = "review.tasks.similar_index_refresh"
CROSSED_TASK = "review.tasks.rereview_crossed"


def _at(run_id: int, step: str) -> TrainingRun | None:
    """The run, locked, if it is active and this step is due (not done already)."""
    run = TrainingRun.objects.select_for_update().get(pk=run_id)
    if not run.is_active or STEPS.index(run.step or "queued") > STEPS.index(step):
        return None
    return run


def _still_at(run_id: int, step: str) -> TrainingRun | None:
    """The run, locked, if it is still active at `step`: the check a step makes before it
    records its result. A step's work can outlive its run's recovery (a worker whose
    heartbeat stopped but whose task went on): it must not bring a failed run back."""
    run = TrainingRun.objects.select_for_update().get(pk=run_id)
    return run if run.is_active and run.step == step else None


def handoff(run: TrainingRun, step: str) -> None:
    """Write the outbox message that runs `step` next, in the caller's transaction (the
    one that records the step before it done). Keyed by run, attempt and step: written
    once, however often the step before it is delivered."""
    if step == "rescore":
        chunks = rescore_chunks(run_id=run.pk)
        upto = chunks[-1][1] if chunks else 0
        for first_id, last_id in chunks:
            outbox_write(
                task=RESCORE_TASK,
                kwargs={"run_id": run.pk, "first_id": first_id, "last_id": last_id, "upto": upto},
                key=f"retrain:{run.pk}:{run.attempt}:rescore:{first_id}",
                run=run,
            )
        return
    outbox_write(
        task=STEP_TASKS[step],
        kwargs={"run_id": run.pk},
        key=f"retrain:{run.pk}:{run.attempt}:{step}",
        run=run,
    )


def rescore_chunks(*, run_id: int) -> list[tuple[int, int]]:
    """The id ranges the rescoring step splits the merchants into (one task each)."""
    bounds = Merchant.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return []
    return [
        (lo, min(lo + RESCORE_CHUNK - 1, bounds["hi"]))
        for lo in range(bounds["lo"], bounds["hi"] + 1, RESCORE_CHUNK)
    ]


def retrain_failed(*, run_id: int, error: str) -> None:
    """A step failed: the run ends failed and its other messages are abandoned; the
    champion stays as it was. A lead may retry it (retrain_runs.retrain_retry)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.is_active:
            _finish(run, status=TrainingRun.Status.FAILED, message=error)


def _fail(run: TrainingRun, message: str) -> TrainingRun:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if not run.is_active:
            return run  # recovered meanwhile: its own reason stands
        return _finish(run, status=TrainingRun.Status.FAILED, message=message)


def _finish(
    run: TrainingRun, *, status: str, message: str, abandon_running: bool = False
) -> TrainingRun:
    with transaction.atomic():
        run.status = status
        run.message = message
        run.finished_at = timezone.now()
        run.holds_lock = False
        run.progress = 100 if status == TrainingRun.Status.SUCCEEDED else run.progress
        run.save(update_fields=["status", "message", "finished_at", "progress", "holds_lock"])
        # Whatever of it was still waiting is abandoned (a late delivery finds its message
        # done and does nothing); a step still running closes its own message, unless its
        # worker is gone (the recovery says so).
        abandoned = OutboxMessage.objects.filter(run=run, done_at__isnull=True)
        if not abandon_running:
            abandoned = abandoned.filter(started_at__isnull=True)
        abandoned.update(done_at=timezone.now(), outcome=OutboxMessage.Outcome.ABANDONED)
        audit_record(
            actor=run.requested_by,
            verb="retrain.finish",
            target=run,
            after={"status": status, "message": message},
        )
    return run
