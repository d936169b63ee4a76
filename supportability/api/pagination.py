"""Keyset (cursor) pages whose cursor is checked: DRF decodes the cursor's position and
hands it to the queryset as it is, so a forged cursor with a non-integer position for an
integer ordering failed in the database (a 500), as did one past 64 bits (SQLite cannot
bind it). Here either is a 404 like any other bad cursor."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

# The range of the id columns a position is compared with.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class IdCursorPagination(CursorPagination):
    """Ordered by an integer column (`ordering`, e.g. "-id" or "merchant_id")."""

    invalid_cursor_message = "Invalid cursor: ask for the first page again."

    def decode_cursor(self, request: Any) -> Any:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = int(cursor.position)
            except (TypeError, ValueError):
                raise NotFound(self.invalid_cursor_message) from None
            if not BIGINT_MIN <= position <= BIGINT_MAX:
                raise NotFound(self.invalid_cursor_message)
        return cursor
