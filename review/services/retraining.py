"""The lead's writes: retraining from the labels collected so far. The chain is composed
here, in the top layer, because it reads labels (labeling) to train models (supportability).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.models import Label
from labeling.services import queue_reprioritise
from supportability.audit import audit_record
from supportability.ml.model import TrainingDataError
from supportability.models import (
    Decision,
    LabelSnapshot,
    TrainingRun,
)
from supportability.services import (
    SnapshotRow,
    merchants_score,
    model_promote,
    model_train,
    model_version_register,
    snapshot_create,
)

DEMO_MODEL_NAME = "supportability-demo"


class RetrainBusy(Exception):
    """A retraining is already queued or running."""


@transaction.atomic
def retrain_start(*, actor: Any, enqueue: bool = True) -> TrainingRun:
    """Queue a retraining for the workers (or, with enqueue=False, for the caller to run).
    Never two at once: the database refuses a second active run."""
    from ..tasks import retrain

    _runs_fail_stale()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(requested_by=actor, step="queued")
    except IntegrityError as exc:
        raise RetrainBusy("A retraining is already queued or running.") from exc
    audit_record(actor=actor, verb="retrain.start", target=run, after={"status": run.status})
    if enqueue:
        retrain.delay_on_commit(run.pk)
    return run


# Past the task's hard time limit a run that still holds the lock was lost with its worker
# (killed, restarted); it must not block retraining for good.
STALE_AFTER = timedelta(seconds=1_860 + 60)


def _runs_fail_stale() -> None:
    cutoff = timezone.now() - STALE_AFTER
    for run in TrainingRun.objects.select_for_update().filter(
        holds_lock=True, created_at__lt=cutoff
    ):
        _finish(run, status=TrainingRun.Status.FAILED, message="Lost with its worker; abandoned.")


def _progress(run: TrainingRun, *, step: str, progress: int, **fields: Any) -> None:
    run.step = step
    run.progress = progress
    for key, value in fields.items():
        setattr(run, key, value)
    run.save(update_fields=["step", "progress", *fields])


def training_rows() -> list[SnapshotRow]:
    """Training rows from everything known: the historical (seed) decisions, overridden by
    analysts' labels. Thin on purpose: the majority of an item's labels, ties to the latest;
    `unsure` labels are left out. Consensus, gold and Dawid-Skene come with clean labels."""
    rows: dict[int, SnapshotRow] = {}
    seed = LabelSnapshot.objects.filter(filters__source="seed").order_by("id").first()
    if seed is not None:
        for merchant_id, decision, category, weight in seed.rows.values_list(
            "merchant_id", "decision", "category_slug", "weight"
        ):
            rows[merchant_id] = SnapshotRow(merchant_id, decision, category, "seed", weight)
    votes: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for merchant_id, decision, slug in (
        Label.objects.exclude(decision=Decision.UNSURE)
        .order_by("id")
        .values_list("merchant_id", "decision", "category__slug")
    ):
        votes[merchant_id].append((decision, slug))
    for merchant_id, pairs in votes.items():
        counts = Counter(pairs)
        best = max(counts.values())
        winner = next(pair for pair in reversed(pairs) if counts[pair] == best)
        rows[merchant_id] = SnapshotRow(merchant_id, winner[0], winner[1], "analyst", 1.0)
    return list(rows.values())


def retrain_execute(*, run_id: int) -> TrainingRun:
    """Run a queued retraining to the end. Each step commits, so the lead sees progress;
    a run that is not queued (already done, or running elsewhere) is left alone."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status != TrainingRun.Status.QUEUED:
            return run
        run.status = TrainingRun.Status.RUNNING
        _progress(run, step="snapshot", progress=5, status=TrainingRun.Status.RUNNING)
    try:
        rows = training_rows()
        snapshot = snapshot_create(
            rows=rows, filters={"source": "retrain", "run": run.pk}, actor=run.requested_by
        )
        _progress(run, step="train", progress=20, snapshot=snapshot)
        trained = model_train(snapshot=snapshot, seed=run.pk)
        _progress(run, step="register", progress=60)
        version = f"{timezone.now():%Y%m%d-%H%M%S}-run{run.pk}"
        model_version = model_version_register(
            name=DEMO_MODEL_NAME,
            version=version,
            trained=trained,
            snapshot=snapshot,
            actor=run.requested_by,
        )
        _progress(run, step="rescore", progress=70, model_version=model_version)
        # Score as a candidate first: a run that fails here leaves the champion in place.
        merchants_score(model_version=model_version, actor=run.requested_by)
        # Thin on purpose: the new model is promoted without a gate. Evaluation against the
        # champion on propensity-weighted held-out labels is the retraining issue's job.
        _progress(run, step="promote", progress=90)
        model_promote(model_version=model_version, actor=run.requested_by)
        _progress(run, step="reprioritise", progress=95)
        queue_reprioritise(model_version=model_version, actor=run.requested_by)
    except TrainingDataError as exc:
        return _finish(run, status=TrainingRun.Status.FAILED, message=str(exc))
    except Exception as exc:
        _finish(run, status=TrainingRun.Status.FAILED, message=f"{type(exc).__name__}: {exc}")
        raise
    return _finish(
        run,
        status=TrainingRun.Status.SUCCEEDED,
        message=f"{model_version} trained on {len(rows)} labels and promoted.",
    )


def _finish(run: TrainingRun, *, status: str, message: str) -> TrainingRun:
    with transaction.atomic():
        run.status = status
        run.message = message
        run.finished_at = timezone.now()
        run.holds_lock = False
        run.progress = 100 if status == TrainingRun.Status.SUCCEEDED else run.progress
        run.save(update_fields=["status", "message", "finished_at", "progress", "holds_lock"])
        audit_record(
            actor=run.requested_by,
            verb="retrain.finish",
            target=run,
            after={"status": status, "message": message},
        )
    return run
