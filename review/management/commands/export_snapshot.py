from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review.api.export import FORMATS, rows_formatted
from supportability.models import LabelSnapshot
from supportability.services.request_audit import export_record


class Command(BaseCommand):
    help = "Write a label snapshot's rows as JSON lines or CSV (as the API's download)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("snapshot_id", type=int, metavar="ID")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="jsonl")
        parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")

    def handle(
        self, *args: Any, snapshot_id: int, fmt: str, output: str | None, **options: Any
    ) -> None:
        snapshot = LabelSnapshot.objects.filter(pk=snapshot_id).first()
        if snapshot is None:
            raise CommandError(f"No snapshot with id {snapshot_id}.")
        source = {"route": "manage.py export_snapshot", "via": "command"}
        if output is not None:
            source["output"] = output
        export_record(
            actor=None,
            verb="export.snapshot",
            target=snapshot,
            fmt=fmt,
            source=source,
            filters=snapshot.filters,
        )
        lines = rows_formatted(snapshot, fmt=fmt)
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as out:
            out.writelines(lines)
        self.stderr.write(f"Wrote {snapshot.row_count} rows of snapshot {snapshot.pk} to {output}.")
