"""What services refuse. The HTTP layers map InvalidInput to 400 naming the field (a dotted
path such as `explanation.terms[0][1]`), and Conflict to 409."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input; names the field at fault. Nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Conflict(Exception):
    """The request clashes with the current state (answered 409)."""
