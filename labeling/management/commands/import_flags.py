"""Bulk intake from a file: an upstream detector's export, as CSV or JSON lines, through
the same serializer and service as `POST /api/v1/flags/`. All or nothing: every row is
checked first, and one bad row refuses the file with its line and field."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from labeling import services
from labeling.api.serializers import MAX_FLAGS_PER_REQUEST, FlagBatchSerializer
from labeling.services.intake import MERCHANT_FIELDS
from supportability.api.errors import flatten

NUMBERS = {"refund_rate", "dispute_rate", "cnp_share", "account_age_days", "monthly_volume"}
COLUMNS = (
    "external_id",
    *MERCHANT_FIELDS,
    "model_name",
    "model_version",
    "score",
    "category",
    "explanation",
)


def _number(text: str) -> Any:
    """A CSV cell holding a number, as the number (JSON would have sent one); anything
    else is left as text for the serializer to refuse by name ("nan" reads as NaN, which
    it refuses as not finite)."""
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"external_id", "name", "country", "mcc", "model_name", "score"} - set(
            reader.fieldnames or ()
        )
        if missing:
            raise CommandError(f"{path}: missing columns: {', '.join(sorted(missing))}")
        for row in reader:
            yield reader.line_num, _flag(row)


def _flag(cells: dict[str, Any]) -> dict[str, Any]:
    merchant = {
        key: _number(value) if key in NUMBERS else value
        for key, value in cells.items()
        if key in {"external_id", *MERCHANT_FIELDS} and value not in (None, "")
    }
    flag: dict[str, Any] = {
        "merchant": merchant,
        "model": {
            "name": cells.get("model_name") or "",
            "version": cells.get("model_version") or "",
        },
        "score": _number(cells.get("score") or ""),
    }
    if cells.get("category"):
        flag["category"] = cells["category"]
    if cells.get("explanation"):
        try:
            flag["explanation"] = json.loads(cells["explanation"])
        except ValueError:
            flag["explanation"] = cells["explanation"]  # refused by the schema, by name
    return flag


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError as exc:
                    raise CommandError(f"line {number}: not JSON: {exc}") from exc


class Command(BaseCommand):
    help = (
        "Import model-flagged merchants from a CSV or JSON-lines file (the API's flag rows;"
        f" CSV columns: {', '.join(COLUMNS)}). Checks every row first; imports all or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", choices=("csv", "jsonl"), help="default: by extension")

    def handle(self, *args: Any, path: Path, format: str | None, **options: Any) -> None:
        fmt = format or ("jsonl" if path.suffix in {".jsonl", ".ndjson"} else "csv")
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            rows = list(_csv_rows(path) if fmt == "csv" else _jsonl_rows(path))
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        if not rows:
            raise CommandError(f"{path}: no rows")
        checked: list[dict[str, Any]] = []
        for start in range(0, len(rows), MAX_FLAGS_PER_REQUEST):
            chunk = rows[start : start + MAX_FLAGS_PER_REQUEST]
            batch = FlagBatchSerializer(data=[row for _, row in chunk])
            if not batch.is_valid():
                raise CommandError(_describe(batch.errors, chunk))
            checked.extend(batch.validated_data)
        with transaction.atomic():
            try:
                result = services.flags_ingest(rows=checked, actor=None)
            except services.InvalidInput as exc:
                raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(
            f"Imported {len(checked)} rows: {result.merchants_created} merchants created,"
            f" {result.merchants_updated} updated, {result.scores_created} scores,"
            f" {result.items_enqueued} queued."
        )


def _describe(errors: Any, chunk: list[tuple[int, Any]]) -> str:
    """Each error with the file's line number instead of the chunk's row index."""
    lines = []
    for error in flatten(errors):
        field = error["field"]
        index = int(field[1 : field.index("]")]) if field.startswith("[") else None
        where = f"line {chunk[index][0]}" if index is not None else "file"
        rest = field[field.index("]") + 2 :] if index is not None else field
        lines.append(f"{where}: {rest or 'row'}: {error['message']}")
    return "Nothing imported:\n  " + "\n  ".join(lines)
