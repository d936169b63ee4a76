"""A snapshot's rows as JSON lines or CSV: one formatting for the API's download and the
`export_snapshot` command, so that both give the same bytes.

Rows are read through a server-side cursor (`iterator`) in merchant order, so a snapshot of
any size streams in constant memory.

JSON lines carry the exact values. CSV is for spreadsheets: every text cell passes through
`csv_cell`, so one starting with `=`, `+`, `-`, `@`, a tab or a carriage return comes out with
a leading `'`; the numeric columns (merchant_id, confidence, propensity, weight) stay numbers
and exact, a negative one included."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from supportability.csv_cells import csv_row
from supportability.models import LabelSnapshot, LabelSnapshotRow

FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}

# Output field -> model column, in output order.
COLUMNS = {
    "merchant_id": "merchant_id",
    "merchant_external_id": "merchant__external_id",
    "features_ref": "features_ref",
    "decision": "decision",
    "category": "category_slug",
    "source": "source",
    "confidence": "confidence",
    "propensity": "propensity",
    "weight": "weight",
}
FIELDS = tuple(COLUMNS)
CHUNK_SIZE = 5_000


def _rows(snapshot: LabelSnapshot) -> Iterator[tuple[Any, ...]]:
    return (
        LabelSnapshotRow.objects.filter(snapshot=snapshot)
        .order_by("merchant_id")
        .values_list(*COLUMNS.values())
        .iterator(chunk_size=CHUNK_SIZE)
    )


def rows_jsonl(snapshot: LabelSnapshot) -> Iterator[str]:
    """One compact JSON object per line, each ending in a newline."""
    for row in _rows(snapshot):
        yield json.dumps(dict(zip(FIELDS, row, strict=True)), separators=(",", ":")) + "\n"


def rows_csv(snapshot: LabelSnapshot) -> Iterator[str]:
    """A header line, then one line per row, with formula-like text neutralised. Lines end
    in `\\r\\n` (RFC 4180, as the app's other CSVs): with a bare `\\n` terminator Python's
    writer leaves a cell holding a carriage return unquoted, which splits the row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(FIELDS)
    for row in _rows(snapshot):
        yield line(csv_row(row))


def rows_formatted(snapshot: LabelSnapshot, *, fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        return rows_jsonl(snapshot)
    if fmt == "csv":
        return rows_csv(snapshot)
    raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def batched(lines: Iterable[str], *, size: int = 1_000) -> Iterator[str]:
    """Join lines into larger pieces: a streamed response then writes to the socket once per
    `size` rows rather than once per row."""
    pending: list[str] = []
    for text in lines:
        pending.append(text)
        if len(pending) >= size:
            yield "".join(pending)
            pending.clear()
    if pending:
        yield "".join(pending)
