"""CSV cells that a spreadsheet will not run: OWASP's advice against CSV (formula) injection.

Every CSV the app writes (a snapshot's rows, the audit export, the agreement export) passes
each cell through `csv_cell`. A text cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return gets a leading `'`, so a spreadsheet shows it as text instead of evaluating
it; merchant ids, usernames, slugs and the like are typed by people and are untrusted.

Numbers are left exact: an `int`, `float` or `Decimal` is never a formula (csv writes its
`str`, which a spreadsheet reads back as the same number), so a negative kappa of -0.5
stays -0.5. A writer keeps numeric columns as numbers for this reason; a number already
formatted into text would be treated as text and, if negative, neutralised.

CSV is for people and spreadsheets: a text value that began with one of the prefixes comes
back with the `'`. JSON lines (and any machine format) carry the exact values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value to hand csv.writer: text starting with a formula prefix gets a leading `'`;
    anything else (numbers, None, text without such a start) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """`csv_cell` applied to every cell of a row."""
    return [csv_cell(value) for value in values]
