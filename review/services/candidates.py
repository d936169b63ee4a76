"""A lead's word on a candidate the gate held: promote it (rescored, promoted and the queue
re-ranked by a run of its own) or reject it with a reason. Both audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from supportability.audit import audit_record
from supportability.models import ModelVersion, TrainingRun

from .errors import InvalidInput
from .retrain_runs import BUSY_MESSAGE, RetrainBusy, runs_recover
from .retrain_steps import handoff


@transaction.atomic
def candidate_promote(*, actor: Any, model_version_id: int) -> TrainingRun:
    """A lead overrides the gate: the held candidate is rescored, promoted and the queue
    re-ranked, by a run of its own (so nothing else retrains meanwhile)."""
    model_version = ModelVersion.objects.select_for_update().get(pk=model_version_id)
    if model_version.status != ModelVersion.Status.CANDIDATE:
        raise ValueError(f"Only a candidate can be promoted; this one is {model_version.status}.")
    runs_recover()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                requested_by=actor,
                step="rescore",
                status=TrainingRun.Status.RUNNING,
                model_version=model_version,
                snapshot=model_version.snapshot,
                progress=65,
                gate={"passed": True, "reasons": ["Promoted by a lead over the gate."]},
            )
    except IntegrityError as exc:
        raise RetrainBusy(BUSY_MESSAGE) from exc
    audit_record(
        actor=actor, verb="model.promote_requested", target=model_version, after={"run": run.pk}
    )
    handoff(run, "rescore")
    return run


@transaction.atomic
def candidate_reject(*, actor: Any, model_version_id: int, reason: str) -> ModelVersion:
    if not reason.strip():
        raise InvalidInput("reason", "Say why this candidate is rejected.")
    model_version = ModelVersion.objects.select_for_update().get(pk=model_version_id)
    if model_version.status != ModelVersion.Status.CANDIDATE:
        raise ValueError(f"Only a candidate can be rejected; this one is {model_version.status}.")
    model_version.status = ModelVersion.Status.REJECTED
    model_version.save(update_fields=["status"])
    audit_record(
        actor=actor,
        verb="model.reject",
        target=model_version,
        before={"status": ModelVersion.Status.CANDIDATE},
        after={"status": model_version.status, "reason": reason.strip()},
    )
    return model_version
