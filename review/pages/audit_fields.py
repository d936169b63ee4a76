"""Audit values as words: the deny-list that keeps secrets and row ids out (of the pages
and the CSV export alike), the formatter of each field a sentence may show, and the changes
an event made as "priority 0.31 → 0.72"."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Keys never shown, nor exported: the lease (its token is the right to write), API tokens
# and their hashes, idempotency keys, passwords.
DENIED_KEY = re.compile(
    r"lease|token|secret|password|passwd|idempotency|key|hash|sha256|prefix", re.I
)
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
REDACTED = "(withheld)"


def redact(value: Any) -> Any:
    """The value with every denied key removed and every UUID-looking string withheld, at
    any depth: what the CSV export writes."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not DENIED_KEY.search(str(k))}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and UUID.search(value):
        return REDACTED
    return value


# Formatting one value ----------------------------------------------------------------------

STATUS_WORDS = {
    "queued": "queued",
    "leased": "with an analyst",
    "escalated": "with the leads",
    "signoff": "awaiting sign-off",
    "done": "done",
    "final": "final",
    "awaiting_signoff": "awaiting sign-off",
    "superseded": "reopened",
    "rejected": "refused",
    "pending": "pending",
    "agreed": "agreed",
    "overturned": "overturned",
}


def words(slug: Any) -> str:
    """A slug as words: "high-chargeback" → "high chargeback"."""
    return str(slug).replace("_", " ").replace("-", " ")


def number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 0.01 and value else f"{value:.2f}"
    return plain(value)


def share(value: Any) -> str:
    return (
        f"{value:.1%}"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else plain(value)
    )


def status(value: Any) -> str:
    return STATUS_WORDS.get(str(value), words(value))


def decided(value: Any) -> str:
    """ "prohibited/gambling" → "prohibited: gambling"."""
    decision, _, category = str(value).partition("/")
    return f"{decision}: {words(category)}" if category and category != "none" else decision


def plain(value: Any) -> str:
    """Any stored value as text without braces: a mapping as "key value, …", a list joined."""
    value = redact(value)
    if value is None:
        return "none"
    if isinstance(value, bool | int | float):
        return number(value)
    if isinstance(value, dict):
        return ", ".join(f"{words(k)} {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "none"
    return str(value)


def shares(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{words(k)} {share(v)}" for k, v in value.items())
    return plain(value)


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


def credential(value: Any) -> str:
    """How a request signed in: "session", or an API credential by name ("token:trainer")."""
    kind, _, name = str(value).partition(":")
    return f"API credential {name}" if kind == "token" and name else plain(value)


Formatter = Callable[[Any], str]

# Each field a sentence may show: its label and formatter. A field not here is never shown.
FIELDS: dict[str, tuple[str, Formatter]] = {
    "status": ("status", status),
    "item_status": ("item", status),
    "decision": ("decision", plain),
    "category": ("category", words),
    "priority": ("priority", number),
    "propensity": ("chance of being drawn", number),
    "required_labels": ("labels needed", number),
    "label_count": ("labels", number),
    "reason": ("reason", words),
    "queue": ("queue", plain),
    "score_hidden": ("score hidden", yes_no),
    "ip_address": ("from", plain),
    "failures": ("failed attempts", number),
    "for_training": ("for training", yes_no),
    "note": ("note", plain),
    "rate": ("audit rate", share),
    "labels": (
        "labels",
        lambda v: ", ".join(decided(x) for x in v) if isinstance(v, list) else plain(v),
    ),
    "label": ("label", decided),
    "drawn": ("drawn", number),
    "new_items": ("new items", number),
    "population": ("population", number),
    "expected_reviews": ("expected reviews", number),
    "shares": ("shares", shares),
    "mix": ("mix", shares),
    "items": ("items", lambda v: number(len(v)) if isinstance(v, list) else number(v)),
    "raised": ("raised", number),
    "priority_boost": ("priority boost", number),
    "sla_minutes": ("SLA minutes", number),
    "holdout_rows": ("held-out labels", number),
    "pr_auc": ("PR-AUC", number),
    "champion_pr_auc": ("champion's PR-AUC", number),
    "passed": ("passed", yes_no),
    "merchants_scored": ("merchants scored", number),
    "rows": ("rows", number),
    "clean_labels": ("clean labels", number),
    "by_source": ("by source", plain),
    "re_reviews_settled": ("re-reviews settled", number),
    "multi_labelled": ("items labelled twice or more", number),
    "agreement_rows": ("agreement rows", number),
    "analysts": ("analysts", number),
    "step": ("step", words),
    "attempt": ("attempt", number),
    "message": ("message", plain),
    "found": ("found", number),
    "resolved": ("resolved", number),
    "still_open": ("still open", number),
    "scopes": ("scopes", plain),
    "role": ("role", plain),
    "shortcuts_enabled": ("shortcuts", lambda v: "on" if v else "off"),
    "decided_merchants": ("decided merchants", number),
    "why": ("why", plain),
    "audit_rate": ("audit rate", share),
    "audit_floor": ("audit floor", share),
    "audit_cap": ("audit cap", share),
    "four_eyes": (
        "four eyes",
        lambda v: ", ".join(words(x) for x in v) if isinstance(v, list) else plain(v),
    ),
    "retrain_min_new_labels": ("new labels to retrain", number),
    "retrain_min_agreement": ("agreement to retrain", number),
    "paused": ("paused", yes_no),
    "overlap_share": ("overlap share", share),
    "overlap_k": ("labels per overlap item", number),
    "gold_rate": ("gold rate", share),
    "capacity": ("capacity per round", number),
    "bandit": ("bandit", yes_no),
    "bandit_reward": ("bandit reward", words),
    "hide_score_share": ("score hidden share", share),
    "rereview_share": ("re-review share", share),
    "sla_minutes_target": ("SLA minutes", number),
    "merchants_created": ("merchants new", number),
    "merchants_updated": ("merchants updated", number),
    "scores_created": ("scores new", number),
    "items_enqueued": ("items queued", number),
    "method": ("method", plain),
    "path": ("path", plain),
    "route": ("route", plain),
    "via": ("via", credential),
    "filters": ("filters", plain),
}
# Shown for a verb this module does not know.
COMMON_FIELDS = ("status", "item_status", "decision", "category", "reason", "queue")


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str | None  # None: the field is new
    after: str | None  # None: only the state before was recorded (context, not a removal)

    @property
    def text(self) -> str:
        if self.after is None:
            return f"{self.before} (before)"
        return self.after if self.before is None else f"{self.before} → {self.after}"


def field_changes(before: Any, after: Any, fields: Sequence[str]) -> tuple[FieldChange, ...]:
    """The allowed fields the event set or changed, in the allow-list's order."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    missing = object()
    out = []
    for key in fields:
        if DENIED_KEY.search(key) or key not in FIELDS:
            continue
        was, now = old.get(key, missing), new.get(key, missing)
        if (was is missing and now is missing) or was == now:
            continue
        label, fmt = FIELDS[key]
        out.append(
            FieldChange(
                label,
                None if was is missing else fmt(redact(was)),
                None if now is missing else fmt(redact(now)),
            )
        )
    return tuple(out)
