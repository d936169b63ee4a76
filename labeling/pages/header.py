"""The review card's header: how long the item has waited against its queue's SLA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SlaState:
    text: str  # "waiting 3 h of 24 h" / "SLA breached by 2 h"
    breached: bool


def duration_words(seconds: float) -> str:
    """45 min, 3 h, 3 h 20 min, 2 d 4 h."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if rest == 0 or hours >= 10 else f"{hours} h {rest} min"
    days, hours = divmod(hours, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"


def sla_state(*, created_at: datetime, sla_minutes: int, now: datetime) -> SlaState:
    waited = (now - created_at).total_seconds()
    target = sla_minutes * 60
    if waited > target:
        return SlaState(f"SLA breached by {duration_words(waited - target)}", breached=True)
    return SlaState(f"waiting {duration_words(waited)} of {duration_words(target)}", breached=False)
