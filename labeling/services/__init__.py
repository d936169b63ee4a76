"""Writes of the review queue. Each service checks the current state, changes it in one
transaction and records an audit event. Split by sub-domain: claims (leases), labels,
intake (enqueue and upstream flags), queues (settings, gold, re-prioritisation)."""

from __future__ import annotations

from .claims import (
    SKIP_COOLDOWN,
    TIE_WINDOW,
    chance,
    item_claim,
    lease_heartbeat,
    lease_release,
    lease_ttl,
    leases_expire,
    leases_lapse,
)
from .errors import (
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    LabelInvalid,
    LeaseLost,
)
from .intake import Enqueue, IntakeInvalid, IntakeResult, flags_ingest, items_enqueue
from .labels import (
    LabelInput,
    Undone,
    UndoRefused,
    label_submit,
    label_undo,
    undo_window,
    validate_label,
)
from .queues import (
    DEFAULT_DRAW_CAPACITY,
    QueueInvalid,
    gold_create,
    items_reprioritise,
    queue_default,
    queue_reprioritise,
    queue_update,
)
from .reviewer import (
    ACTIONS,
    DEFAULT_KEYMAP,
    SettingsInvalid,
    Shortcuts,
    reviewer_settings_update,
    shortcuts_of,
)
from .sampling import (
    FLAG_THRESHOLD,
    DrawNotNeeded,
    lead_shares,
    queue_draw,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_DRAW_CAPACITY",
    "DEFAULT_KEYMAP",
    "FLAG_THRESHOLD",
    "SKIP_COOLDOWN",
    "TIE_WINDOW",
    "Conflict",
    "DrawNotNeeded",
    "Enqueue",
    "IdempotencyConflict",
    "IntakeInvalid",
    "IntakeResult",
    "InvalidInput",
    "LabelInput",
    "LabelInvalid",
    "LeaseLost",
    "QueueInvalid",
    "SettingsInvalid",
    "Shortcuts",
    "UndoRefused",
    "Undone",
    "chance",
    "flags_ingest",
    "gold_create",
    "item_claim",
    "items_enqueue",
    "items_reprioritise",
    "label_submit",
    "label_undo",
    "lead_shares",
    "lease_heartbeat",
    "lease_release",
    "lease_ttl",
    "leases_expire",
    "leases_lapse",
    "queue_default",
    "queue_draw",
    "queue_reprioritise",
    "queue_update",
    "reviewer_settings_update",
    "shortcuts_of",
    "undo_window",
    "validate_label",
]
