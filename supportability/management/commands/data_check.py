from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from supportability.data_checks import report, scan
from supportability.services import data_issues_record


class Command(BaseCommand):
    help = (
        "Find stored rows that break the stored-value rules (numbers finite and in range,"
        " explanation schema, MCC format...), record them as data issues and list them."
        " Exit status 1 when any is found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--validate",
            action="store_true",
            help="PostgreSQL: when nothing is found, validate the constraints that were added"
            " for new rows only, so that they hold for every row",
        )

    def handle(self, *args: Any, validate: bool, **options: Any) -> None:
        findings = scan(apps)
        change = data_issues_record(findings=findings, found_by="manage.py data_check")
        self.stdout.write(report(findings))
        self.stdout.write(
            f"Data issues: {change.found} new, {change.still_open} still open,"
            f" {change.resolved} resolved."
        )
        if validate and not findings and connection.vendor == "postgresql":
            self.stdout.write(f"Validated {_validate_all()} constraint(s).")
        if findings:
            raise SystemExit(1)


def _validate_all() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
            " JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE NOT c.convalidated AND c.contype = 'c' AND n.nspname = current_schema()"
        )
        pending = cursor.fetchall()
        for table, name in pending:
            cursor.execute(
                f"ALTER TABLE {connection.ops.quote_name(table)}"
                f" VALIDATE CONSTRAINT {connection.ops.quote_name(name)}"
            )
    return len(pending)
