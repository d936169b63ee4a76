"""What the queue's services refuse. The HTTP layers map InvalidInput to 400 (naming the
field) and Conflict to 409."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input; names the field at fault. Nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class LabelInvalid(InvalidInput):
    pass


class Conflict(Exception):
    """The request clashes with the current state (answered 409)."""


class LeaseLost(Conflict):
    """The caller does not hold a live lease on the item (expired, released, or another
    analyst's)."""


class IdempotencyConflict(Conflict):
    """An idempotency key was replayed with a different payload."""
