from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from supportability.audit import chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain: recompute every event's hash in seq order and"
        " report the first edited, deleted or reordered event (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from-seq",
            type=int,
            default=1,
            help="Start at this seq, trusting the event before it (default: the whole chain).",
        )
        parser.add_argument("--chunk-size", type=int, default=2_000)

    def handle(self, *args: Any, from_seq: int, chunk_size: int, **options: Any) -> None:
        if from_seq < 1 or chunk_size < 1:
            raise CommandError("--from-seq and --chunk-size must be positive")
        report = chain_verify(from_seq=from_seq, chunk_size=chunk_size)
        if report.broken is not None:
            b = report.broken
            raise CommandError(
                f"audit chain broken at seq {b.seq} (event id {b.event_id}): {b.kind}: {b.detail}."
                f" {report.events} events verified before it, up to seq {report.head_seq}."
            )
        self.stdout.write(f"{report.events} events, chain intact, head {report.head}")
