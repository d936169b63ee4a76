"""System checks: what production must be given before it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

MIN_KEY_LENGTH = 32


@register(Tags.security)
def audit_checkpoint_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Checkpoints of the audit chain are signed with a key kept out of the database. The
    demo makes one in a file beside its data; production must be given it."""
    key = settings.AUDIT_CHECKPOINT_KEY
    if key and len(key) < MIN_KEY_LENGTH:
        return [
            Error(
                f"AUDIT_CHECKPOINT_KEY is {len(key)} characters long: too short to sign with.",
                hint=f"Use {MIN_KEY_LENGTH} or more random characters (`openssl rand -hex 32`).",
                id="supportability.E002",
            )
        ]
    if key or settings.AUDIT_CHECKPOINT_KEY_CREATE:
        return []
    if Path(settings.AUDIT_CHECKPOINT_KEY_FILE).is_file():
        return []
    return [
        Error(
            "The audit trail's checkpoints have no signing key.",
            hint=(
                "Set AUDIT_CHECKPOINT_KEY (32 or more random bytes, e.g. `openssl rand -hex 32`)"
                " from a secret store, or AUDIT_CHECKPOINT_KEY_FILE to a file holding it. Never"
                " keep it in the database or its backups (docs/operations.md)."
            ),
            id="supportability.E001",
        )
    ]
