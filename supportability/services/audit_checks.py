"""Verifying the audit trail, and what a lead sees of it.

`audit_verify` walks the sealed chain against every checkpoint (supportability.audit) and
records what it found (an AuditVerification, and an audit event); the hourly beat, a lead
("Verify now", through the outbox) and `manage.py verify_audit` run it. `audit_standing`
is the read the lead's audit page shows: the last verification, the last checkpoint, and
the events waiting for the sealer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from ..audit import audit_record
from ..audit.checkpoints import Checkpoint, CheckpointInvalid, checkpoint_store
from ..audit.sealing import sealed_head
from ..audit.verification import ChainReport, verify_against_store
from ..models import AuditEvent, AuditVerification
from ..outbox import outbox_write

VERIFY_TASK = "supportability.tasks.audit_verify_requested"


def audit_verify(
    *, trigger: str = AuditVerification.Trigger.SCHEDULE, requested_by: Any = None
) -> tuple[AuditVerification, ChainReport]:
    """Verify the whole chain against the checkpoints and record the result."""
    started = timezone.now()
    store = checkpoint_store()
    report = verify_against_store(store)
    unsealed = AuditEvent.objects.filter(seq__isnull=True).count()
    latest = report.checkpoint
    broken = report.broken
    with transaction.atomic():
        verification = AuditVerification.objects.create(
            trigger=trigger,
            requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
            started_at=started,
            finished_at=timezone.now(),
            intact=broken is None,
            events=report.events,
            head_seq=report.head_seq,
            unsealed=unsealed,
            checkpoints=report.checkpoints,
            checkpoint_seq=latest.seq if latest is not None else None,
            checkpoint_at=latest.at if latest is not None else None,
            broken_kind=broken.kind if broken is not None else "",
            broken_seq=broken.seq if broken is not None and broken.seq else None,
            detail=broken.detail if broken is not None else "",
        )
        audit_record(
            actor=requested_by,
            verb="audit.verified",
            target=verification,
            after={
                "intact": broken is None,
                "events": report.events,
                "head_seq": report.head_seq,
                "checkpoints": report.checkpoints,
                "broken_kind": verification.broken_kind,
                "broken_seq": verification.broken_seq,
                "trigger": trigger,
            },
        )
    return verification, report


def audit_verification_request(*, user: Any) -> None:
    """A lead's "Verify now": the worker runs it (a walk of the whole chain can take a
    while), so the request returns at once."""
    with transaction.atomic():
        audit_record(
            actor=user,
            verb="audit.verification_requested",
            target=user,
            after={"requested_at": timezone.now().isoformat(timespec="seconds")},
        )
        outbox_write(task=VERIFY_TASK, kwargs={"user_id": user.pk})


@dataclass(frozen=True)
class AuditStanding:
    verification: AuditVerification | None
    checkpoint: Checkpoint | None
    checkpoint_problem: str  # why the latest checkpoint cannot be read, if it cannot
    checkpoint_where: str
    checkpoint_late: bool  # older than twice the interval: is the sealer running?
    sealed_seq: int  # the chain's last sealed seq
    unsealed: int
    oldest_unsealed_at: datetime | None
    sealer_late: bool  # events waiting longer than a minute


def audit_standing() -> AuditStanding:
    store = checkpoint_store()
    checkpoint, problem = None, ""
    try:
        checkpoint = store.latest()
    except CheckpointInvalid as error:
        problem = str(error)
    now = timezone.now()
    waiting = AuditEvent.objects.filter(seq__isnull=True).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    oldest = waiting["oldest"]
    late_after = timedelta(seconds=2 * settings.AUDIT_CHECKPOINT_INTERVAL)
    return AuditStanding(
        verification=AuditVerification.objects.select_related("requested_by").first(),
        checkpoint=checkpoint,
        checkpoint_problem=problem,
        checkpoint_where=store.describe(),
        checkpoint_late=checkpoint is not None and now - checkpoint.at > late_after,
        sealed_seq=sealed_head()[0],
        unsealed=waiting["count"],
        oldest_unsealed_at=oldest,
        sealer_late=oldest is not None and now - oldest > timedelta(minutes=1),
    )
