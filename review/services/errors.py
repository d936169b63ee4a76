"""What the lead's services refuse, beyond the queue's own errors (InvalidInput → 400,
Conflict → 409, re-exported here)."""

from __future__ import annotations

from labeling.services.errors import Conflict, InvalidInput, LeaseLost


class NotAllowed(Exception):
    """The caller may not do this to this object (answered 403): maker-checker, four
    eyes, or a role they do not hold."""


__all__ = ["Conflict", "InvalidInput", "LeaseLost", "NotAllowed"]
