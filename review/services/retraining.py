"""Retraining, as a chain of idempotent steps that Celery runs one after another:

    snapshot -> train (and calibrate) -> evaluate -> decide -> rescore (one task per chunk
    of merchants, across workers) -> promote -> re-prioritise

Each step is a service that checks where its run is and does nothing if that step is
behind it, so a redelivered task (acks_late, a worker killed mid-step) or a second run of
the same step writes nothing twice. A step hands over to the next by writing its outbox
message in the same transaction that records the step done (supportability.outbox): the
chain survives a broker outage and a killed worker, and no step is ever lost between two
others. The run's lifecycle (start, recovery of a run whose worker died, a lead's retry,
inline runs) is in retrain_runs.py. The gate promotes a candidate only when it is not
worse than the champion on held-out labels weighted by their sampling propensities; a
held candidate waits on the model page for a lead to promote or reject it. The chain is
composed here, in the top layer, because it reads labels (labeling, review) to train
models (supportability).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count

from labeling.services import queue_reprioritise
from supportability.audit import audit_record
from supportability.ml.evaluation import Evaluation, evaluate, gate
from supportability.ml.model import TrainingDataError, load_model
from supportability.ml.taxonomy import VIOLATING_DECISIONS
from supportability.models import (
    LabelSnapshot,
    LabelSnapshotRow,
    Merchant,
    ModelVersion,
    Score,
    TrainingRun,
)
from supportability.outbox import outbox_write
from supportability.services import (
    champion,
    merchant_features,
    merchants_scorable,
    merchants_score,
    model_promote,
    model_train,
    model_version_register,
    snapshot_create,
)

from .clean_labels import clean_labels_refresh
from .retrain_data import holdout_rows, is_holdout, skipped_note, training_rows
from .retrain_steps import (
    CROSSED_TASK,
    DEMO_MODEL_NAME,
    SIMILAR_INDEX_TASK,
    _at,
    _fail,
    _finish,
    _still_at,
    handoff,
)


def _id(value: int | None) -> int:
    """A foreign key the run's current step guarantees is set."""
    if value is None:
        raise ValueError("the retraining run lost a step's result")
    return value


def _advance(run: TrainingRun, *, step: str, progress: int, **fields: Any) -> None:
    run.status = TrainingRun.Status.RUNNING
    run.step = step
    run.progress = progress
    for key, value in fields.items():
        setattr(run, key, value)
    run.save(update_fields=["status", "step", "progress", *fields])


def retrain_snapshot(*, run_id: int) -> TrainingRun | None:
    """Refresh the clean labels and freeze them (with the historical decisions)."""
    with transaction.atomic():
        run = _at(run_id, "snapshot")
        if run is None:
            return None
        _advance(run, step="snapshot", progress=5)
    clean_labels_refresh(actor=run.requested_by)
    rows = training_rows()
    violating = sum(r.decision in VIOLATING_DECISIONS for r in rows)
    if not rows:
        return _fail(run, "No clean labels usable for training yet: nothing to learn from.")
    if violating in (0, len(rows)):
        kind = "violating" if violating else "supportable"
        return _fail(run, f"Every one of the {len(rows)} labels says {kind}: one class.")
    with transaction.atomic():
        still = _still_at(run_id, "snapshot")
        if still is None:
            return None
        run = still
        if run.snapshot_id is None:
            snapshot = snapshot_create(
                rows=rows, filters={"source": "retrain", "run": run.pk}, actor=run.requested_by
            )
            _advance(run, step="train", progress=15, snapshot=snapshot)
            handoff(run, "train")
            # The similar-decisions index follows the clean labels just refreshed, beside
            # the chain (not a step of it: a failure there doesn't fail the retraining).
            outbox_write(task=SIMILAR_INDEX_TASK, key=f"similar:{run.pk}:{run.attempt}")
    return run


def retrain_train(*, run_id: int) -> TrainingRun | None:
    """Train and calibrate a candidate on the snapshot minus the held-out merchants."""
    with transaction.atomic():
        run = _at(run_id, "train")
        if run is None or run.model_version_id is not None:
            return None
    snapshot = LabelSnapshot.objects.get(pk=_id(run.snapshot_id))
    holdout = {
        merchant
        for merchant, external_id in snapshot.rows.values_list(
            "merchant_id", "merchant__external_id"
        )
        if is_holdout(external_id)
    }
    try:
        # A fixed seed: the same snapshot trains the same model, whichever run asks.
        trained = model_train(snapshot=snapshot, seed=0, exclude=holdout)
    except TrainingDataError as exc:
        return _fail(run, str(exc))
    with transaction.atomic():
        still = _still_at(run_id, "train")
        if still is None:
            return None
        run = still
        if run.model_version_id is None:
            version = ModelVersion.objects.filter(name=DEMO_MODEL_NAME, version=f"run{run.pk}")
            model_version = version.first() or model_version_register(
                name=DEMO_MODEL_NAME,
                version=f"run{run.pk}",
                trained=trained,
                snapshot=snapshot,
                actor=run.requested_by,
            )
            skipped = int(model_version.metrics.get("skipped_rows", 0))
            _advance(
                run,
                step="evaluate",
                progress=45,
                model_version=model_version,
                skipped_rows=skipped,
            )
            handoff(run, "evaluate")
    return run


def _evaluation(model_version: ModelVersion, rows: list[LabelSnapshotRow]) -> Evaluation | None:
    if model_version.artifact is None or not rows:
        return None
    trained = load_model(
        bytes(model_version.artifact), expected_sha256=model_version.artifact_sha256
    )
    texts, numeric = merchant_features([row.merchant for row in rows])
    predictions = trained.predict(texts, numeric)
    scores = np.array([p.probability for p in predictions])
    categories = sorted({row.category_slug for row in rows} - {"none"})
    category_scores = {
        c: np.array([p.probability * dict(p.explanation.get("categories", [])).get(c, 0.0)
                     for p in predictions])
        for c in categories
    }  # fmt: skip
    return evaluate(
        np.array([row.decision in VIOLATING_DECISIONS for row in rows]),
        scores,
        np.array([row.propensity for row in rows]),
        true_categories=[row.category_slug for row in rows],
        category_scores=category_scores,
        seed=model_version.pk,
    )


def retrain_evaluate(*, run_id: int) -> TrainingRun | None:
    """Evaluate candidate and champion on the same held-out, propensity-weighted labels."""
    with transaction.atomic():
        run = _at(run_id, "evaluate")
        if run is None:
            return None
    candidate = ModelVersion.objects.get(pk=_id(run.model_version_id))
    rows, unreadable = holdout_rows(LabelSnapshot.objects.get(pk=_id(run.snapshot_id)))
    current = champion()
    if current is not None and current.snapshot is not None:
        # A champion trained on some of these merchants (the demo's seed model was) would
        # be judged on what it memorised: compare both models on merchants neither saw.
        trained_by_chain = current.snapshot.filters.get("source") == "retrain"
        seen = {
            merchant
            for merchant, external_id in LabelSnapshotRow.objects.filter(
                snapshot_id=current.snapshot_id
            ).values_list("merchant_id", "merchant__external_id")
            # The chain never trains on held-out merchants.
            if not (trained_by_chain and is_holdout(external_id))
        }
        rows = [row for row in rows if row.merchant_id not in seen]
    ours = _evaluation(candidate, rows)
    theirs = _evaluation(current, rows) if current is not None else None
    if ours is None:
        verdict = {"passed": False, "reasons": ["No held-out labels to evaluate on yet."]}
    else:
        result = gate(ours, theirs, min_labels_per_category=settings.GATE_MIN_LABELS_PER_CATEGORY)
        verdict = result.as_dict()
    with transaction.atomic():
        still = _still_at(run_id, "evaluate")
        if still is None:
            return None
        run = still
        metrics = {
            **candidate.metrics,
            "holdout_rows": len(rows),
            "evaluation": ours.as_dict() if ours else None,
            "champion": str(current) if current else None,
            "champion_evaluation": theirs.as_dict() if theirs else None,
        }
        ModelVersion.objects.filter(pk=candidate.pk).update(metrics=metrics)
        audit_record(
            actor=run.requested_by,
            verb="model.evaluate",
            target=candidate,
            after={
                "holdout_rows": len(rows),
                "pr_auc": ours.pr_auc.estimate if ours else None,
                "champion_pr_auc": theirs.pr_auc.estimate if theirs else None,
            },
        )
        _advance(
            run,
            step="decide",
            progress=60,
            gate=verdict,
            skipped_rows=run.skipped_rows + unreadable,
        )
        handoff(run, "decide")
    return run


def retrain_decide(*, run_id: int) -> TrainingRun | None:
    """The gate's verdict: go on to rescore and promote, or hold the candidate for a lead."""
    with transaction.atomic():
        run = _at(run_id, "decide")
        if run is None:
            return None
        candidate = ModelVersion.objects.get(pk=_id(run.model_version_id))
        verdict = run.gate
        audit_record(actor=run.requested_by, verb="model.gate", target=candidate, after=verdict)
        if not verdict["passed"]:
            _advance(run, step="decide", progress=100)
            return _finish(
                run,
                status=TrainingRun.Status.HELD,
                message=f"{candidate} held for a lead: "
                + " ".join(verdict["reasons"])
                + skipped_note(run.skipped_rows),
            )
        _advance(run, step="rescore", progress=65)
        handoff(run, "rescore")
    return run


def rescore_chunk(*, run_id: int, first_id: int, last_id: int, upto: int | None = None) -> bool:
    """Score one id range with the run's candidate (existing scores are kept, so a second
    delivery adds nothing); True when this was the last chunk to finish, in which case the
    run moves on to promotion exactly once (the run row's lock decides who is last).
    `upto` is the last merchant id any of the run's chunks covers: merchants that arrive
    during the rescoring are the next run's, and must not keep this one from finishing."""
    run = TrainingRun.objects.get(pk=run_id)
    if not run.is_active or run.step != "rescore":
        return False
    model_version = ModelVersion.objects.get(pk=_id(run.model_version_id))
    merchants_score(
        model_version=model_version,
        merchants=Merchant.objects.filter(id__gte=first_id, id__lte=last_id),
        actor=run.requested_by,
    )
    with transaction.atomic():
        still = _still_at(run_id, "rescore")
        if still is None:
            return False
        run = still
        covered = {} if upto is None else {"merchant_id__lte": upto}
        scored = Score.objects.filter(model_version=model_version, **covered).aggregate(
            n=Count("id")
        )["n"]
        # Merchants whose data a model cannot read get no score (merchants_score skips them).
        total = merchants_scorable().filter(**({} if upto is None else {"id__lte": upto})).count()
        run.progress = 65 + int(25 * scored / max(total, 1))
        run.save(update_fields=["progress"])
        if scored < total:
            return False
        _advance(run, step="promote", progress=92)
        handoff(run, "promote")
    return True


def retrain_promote(*, run_id: int) -> TrainingRun | None:
    """Promote the scored candidate: it becomes the champion and the previous one retires,
    in one transaction (never two champions, never a champion without scores)."""
    with transaction.atomic():
        run = _at(run_id, "promote")
        if run is None:
            return None
        model_version = ModelVersion.objects.get(pk=_id(run.model_version_id))
        before = champion()
        model_promote(model_version=model_version, actor=run.requested_by)
        if before is not None and before.pk != model_version.pk:
            # Decided merchants the new champion now sees on the other side of the policy
            # threshold, against their decision, get a second look (services.rereview).
            outbox_write(
                task=CROSSED_TASK,
                kwargs={"before_id": before.pk, "after_id": model_version.pk},
                key=f"crossed:{before.pk}:{model_version.pk}",
            )
        _advance(run, step="reprioritise", progress=95)
        handoff(run, "reprioritise")
    return run


def retrain_reprioritise(*, run_id: int) -> TrainingRun | None:
    """Re-rank the open queue by the new champion's scores (bulk, idempotent: the same
    scores give the same priorities), and finish the run."""
    with transaction.atomic():
        run = _at(run_id, "reprioritise")
        if run is None:
            return None
    model_version = ModelVersion.objects.get(pk=_id(run.model_version_id))
    queue_reprioritise(model_version=model_version, actor=run.requested_by)
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.step != "reprioritise" or not run.is_active:
            return run
        _advance(run, step="done", progress=100)
        snapshot_rows_n = run.snapshot.row_count if run.snapshot else 0
        return _finish(
            run,
            status=TrainingRun.Status.SUCCEEDED,
            message=f"{model_version} trained on {snapshot_rows_n} labels and promoted."
            + skipped_note(run.skipped_rows),
        )
