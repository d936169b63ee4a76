"""The audit trail's integrity as the lead's audit page says it: the last verification, the
last checkpoint outside the database, and the events waiting for the sealer, in words."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime

from supportability.models import AuditVerification
from supportability.services.audit_checks import AuditStanding, audit_standing

KINDS = {
    "edited": "an event was edited",
    "deleted": "events are missing",
    "reordered": "events were moved",
    "rewritten": "the chain was rewritten",
    "checkpoint": "the checkpoint file was altered",
    "sealing refused": "the sealer stopped",
}


@dataclass(frozen=True)
class Line:
    text: str
    alarm: bool = False


@dataclass(frozen=True)
class Integrity:
    verification: Line
    checkpoint: Line
    sealing: Line


def _by(verification: AuditVerification) -> str:
    if verification.requested_by is not None:
        return f"{verification.get_trigger_display()} ({verification.requested_by.get_username()})"
    return verification.get_trigger_display()


def _verification(v: AuditVerification | None) -> Line:
    if v is None:
        return Line("Not verified yet: the hourly check, or Verify now, will walk the chain.")
    when = f"{naturaltime(v.finished_at)}, by {_by(v)}"
    if v.intact:
        anchored = (
            f"agreeing with {intcomma(v.checkpoints)} checkpoint(s) up to seq"
            f" {intcomma(v.checkpoint_seq)}"
            if v.checkpoint_seq is not None
            else "with no checkpoint to compare against (the chain is not anchored yet)"
        )
        return Line(
            f"Intact: {intcomma(v.events)} sealed events checked up to seq"
            f" {intcomma(v.head_seq)}, {anchored}. {when}."
        )
    kind = KINDS.get(v.broken_kind, v.broken_kind)
    if v.broken_kind == "sealing refused":
        return Line(f"Sealing stopped, {naturaltime(v.finished_at)}: {v.detail}.", alarm=True)
    where = f" at seq {intcomma(v.broken_seq)}" if v.broken_seq is not None else ""
    return Line(f"Broken{where}: {kind}. {v.detail}. {when}.", alarm=True)


def _checkpoint(standing: AuditStanding) -> Line:
    if standing.checkpoint_problem:
        return Line(f"The latest checkpoint cannot be read: {standing.checkpoint_problem}.", True)
    checkpoint = standing.checkpoint
    if checkpoint is None and standing.sealed_seq:
        return Line(
            f"No checkpoint in {standing.checkpoint_where}, though {intcomma(standing.sealed_seq)}"
            " events are sealed: the checkpoints are lost, or this store is new (an operator"
            " starts it with manage.py audit_anchor).",
            alarm=True,
        )
    if checkpoint is None:
        return Line(
            "No checkpoint yet: the chain's head is not anchored outside the database until"
            " the sealer writes one."
        )
    text = (
        f"Seq {intcomma(checkpoint.seq)}, {naturaltime(checkpoint.at)}, signed, in"
        f" {standing.checkpoint_where}."
    )
    if standing.checkpoint_late:
        return Line(f"{text} Older than it should be: is the worker's beat running?", True)
    return Line(text)


def _sealing(standing: AuditStanding) -> Line:
    if not standing.unsealed or standing.oldest_unsealed_at is None:
        return Line("Every event is sealed.")
    text = (
        f"{intcomma(standing.unsealed)} event(s) waiting for the sealer, the oldest from"
        f" {naturaltime(standing.oldest_unsealed_at)}."
    )
    if standing.sealer_late:
        return Line(
            f"{text} The sealer runs every few seconds: is the worker's beat running?", True
        )
    return Line(text)


def audit_integrity() -> Integrity:
    standing = audit_standing()
    return Integrity(
        verification=_verification(standing.verification),
        checkpoint=_checkpoint(standing),
        sealing=_sealing(standing),
    )
