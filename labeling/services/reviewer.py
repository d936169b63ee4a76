"""A reviewer's own settings for the review screens: single-key shortcuts on or off, and
which key does what (WCAG 2.1.4, character key shortcuts: a user can turn them off or remap
them). Ctrl+Enter (submit) is not a single-key shortcut and stays on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from supportability.audit import audit_record

from ..models import ReviewerSettings
from .errors import InvalidInput

# action -> (default key, what it does), in the order the settings page lists them.
ACTIONS: dict[str, tuple[str, str]] = {
    "next": ("n", "next merchant"),
    "supportable": ("1", "decide supportable"),
    "restricted": ("2", "decide restricted"),
    "prohibited": ("3", "decide prohibited"),
    "unsure": ("4", "decide unsure (to a lead)"),
    "category": ("c", "go to the category box"),
    "rationale": ("r", "go to the rationale box"),
    "skip": ("s", "skip this merchant"),
    "undo": ("u", "undo your last label"),
}
DEFAULT_KEYMAP: dict[str, str] = {action: key for action, (key, _) in ACTIONS.items()}
# Keys that operate the page whatever the shortcuts say: space presses a button or checks a
# radio, and scrolls; they are never free for a shortcut.
RESERVED_KEYS = frozenset({" "})


class SettingsInvalid(InvalidInput):
    pass


@dataclass(frozen=True)
class Shortcuts:
    """What the review screen's script is given: whether single keys act, and the keys."""

    enabled: bool
    keymap: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "keymap": self.keymap}


def shortcuts_of(user: Any) -> Shortcuts:
    """The user's effective shortcuts: their keys over the defaults (one query)."""
    row = ReviewerSettings.objects.filter(user=user).values_list("shortcuts_enabled", "keymap")
    found = row.first()
    if found is None:
        return Shortcuts(True, dict(DEFAULT_KEYMAP))
    enabled, stored = found
    # A stored key the rules no longer accept falls back to the default instead of failing.
    try:
        keymap = validate_keymap(stored if isinstance(stored, Mapping) else {})
    except SettingsInvalid:
        keymap = dict(DEFAULT_KEYMAP)
    return Shortcuts(bool(enabled), keymap)


def validate_keymap(keymap: Mapping[str, Any]) -> dict[str, str]:
    """The effective keymap (defaults overlaid with `keymap`), or SettingsInvalid naming
    the first bad field as `keymap.<action>`."""
    effective = dict(DEFAULT_KEYMAP)
    for action, key in keymap.items():
        field = f"keymap.{action}"
        if action not in ACTIONS:
            known = ", ".join(ACTIONS)
            raise SettingsInvalid(field, f"Unknown action {action!r}; the actions are {known}.")
        if not isinstance(key, str) or len(key) != 1 or not key.isprintable():
            raise SettingsInvalid(field, "One printable character, such as a letter or a digit.")
        if key in RESERVED_KEYS or key.isspace():
            raise SettingsInvalid(field, "Space is kept for pressing buttons: choose another key.")
        effective[action] = key.lower()
    seen: dict[str, str] = {}
    for action, key in effective.items():
        if key in seen:
            other = ACTIONS[seen[key]][1]
            raise SettingsInvalid(
                f"keymap.{action}", f"{key!r} already does “{other}”: each key does one thing."
            )
        seen[key] = action
    return effective


@transaction.atomic
def reviewer_settings_update(
    *, user: Any, shortcuts_enabled: bool, keymap: Mapping[str, Any]
) -> ReviewerSettings:
    """Turn the user's single-key shortcuts on or off and set their keys. Only the keys
    that differ from the defaults are stored, so a later change of a default reaches
    everyone who did not choose otherwise."""
    effective = validate_keymap(keymap)
    chosen = {a: k for a, k in effective.items() if k != DEFAULT_KEYMAP[a]}
    current = ReviewerSettings.objects.select_for_update().filter(user=user).first()
    before = (
        {"shortcuts_enabled": current.shortcuts_enabled, "keymap": current.keymap}
        if current is not None
        else None
    )
    if current is None:
        current = ReviewerSettings.objects.create(
            user=user, shortcuts_enabled=shortcuts_enabled, keymap=chosen
        )
    else:
        current.shortcuts_enabled = shortcuts_enabled
        current.keymap = chosen
        current.save(update_fields=["shortcuts_enabled", "keymap", "updated_at"])
    audit_record(
        actor=user,
        verb="reviewer_settings.update",
        target=current,
        before=before,
        after={"shortcuts_enabled": shortcuts_enabled, "keymap": chosen},
    )
    return current
