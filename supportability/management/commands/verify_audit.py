from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from supportability.audit.checkpoints import checkpoint_store
from supportability.audit.verification import ChainReport, verify_against_store
from supportability.models import AuditVerification
from supportability.services.audit_checks import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail: recompute every sealed event's hash in seq order, compare the"
        " chain with the signed checkpoints kept outside the database, record the result (the"
        " lead's audit page shows it) and report the first edited, deleted, reordered or"
        " rewritten event, or a deleted tail (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from-seq",
            type=int,
            default=1,
            help=(
                "Start at this seq, trusting the event before it (a quick look at the recent"
                " chain; not recorded). Default: the whole chain, recorded."
            ),
        )
        parser.add_argument("--chunk-size", type=int, default=2_000)

    def handle(self, *args: Any, from_seq: int, chunk_size: int, **options: Any) -> None:
        if from_seq < 1 or chunk_size < 1:
            raise CommandError("--from-seq and --chunk-size must be positive")
        if from_seq > 1:
            store = checkpoint_store()
            report = verify_against_store(store, from_seq=from_seq, chunk_size=chunk_size)
            unsealed = None
        else:
            verification, report = audit_verify(trigger=AuditVerification.Trigger.COMMAND)
            unsealed = verification.unsealed
        _report(self, report, unsealed)


def _report(command: BaseCommand, report: ChainReport, unsealed: int | None) -> None:
    if report.broken is not None:
        b = report.broken
        where = f"seq {b.seq}" + (f" (event id {b.event_id})" if b.event_id else "")
        raise CommandError(
            f"audit chain broken at {where}: {b.kind}: {b.detail}."
            f" {report.events} events verified before it, up to seq {report.head_seq}."
        )
    command.stdout.write(f"{report.events} events, chain intact, head {report.head}")
    latest = report.checkpoint
    if latest is None:
        command.stdout.write("no checkpoint yet: the chain is not anchored outside the database")
    else:
        command.stdout.write(
            f"agrees with {report.checkpoints} checkpoint(s); the latest at seq {latest.seq},"
            f" {latest.at.isoformat(timespec='seconds')}"
        )
    if unsealed:
        command.stdout.write(f"{unsealed} event(s) waiting for the sealer")
