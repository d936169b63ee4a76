"""What the queue's services refuse. The HTTP layers map InvalidInput to 400 (naming the
field) and Conflict to 409."""

from __future__ import annotations

from supportability.errors import Conflict, InvalidInput

__all__ = ["Conflict", "IdempotencyConflict", "InvalidInput", "LabelInvalid", "LeaseLost"]


class LabelInvalid(InvalidInput):
    pass


class LeaseLost(Conflict):
    """The caller does not hold a live lease on the item (expired, released, or another
    analyst's)."""


class IdempotencyConflict(Conflict):
    """An idempotency key was replayed with a different payload."""
