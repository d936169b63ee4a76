"""The merchant's numeric signals in words: each value in its unit, where it stands among
all merchants (a percentile) and, when the analyst may see the model, which way it moved
the score."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import ordinal
from django.utils import timezone

from supportability.ml.explanation import feature_label
from supportability.ml.features import NUMERIC_FEATURES
from supportability.models import Merchant
from supportability.validation import Signal, finite_or_none

from .population import PopulationTable

_FORMATS: dict[str, Callable[[float], str]] = {
    "refund_rate": lambda v: f"{v * 100:.1f}%",
    "dispute_rate": lambda v: f"{v * 100:.2f}%",
    "cnp_share": lambda v: f"{v * 100:.0f}%",
    "account_age_days": lambda v: f"{round(v):,} days",
    "monthly_volume": lambda v: f"${v:,.0f}",
}


@dataclass(frozen=True)
class SignalRow:
    feature: str
    label: str  # "Card-not-present share"
    value: str  # "42%", or why it is missing
    percentile: str  # "94th percentile", or why it is missing
    rank: float | None  # 0-100, for the bar
    direction: str  # "up", "down" or "" (the model's view is hidden or absent)
    effect: str  # "raised the score (+0.40)", or why it is not shown


@dataclass(frozen=True)
class SignalsPanel:
    rows: list[SignalRow]
    basis: str  # what the percentiles are computed from, or why there are none
    model_note: str = ""  # why no effect on the score is shown ("" when it is)


def signals_panel(
    *,
    merchant: Merchant,
    table: PopulationTable | None,
    model_signals: Iterable[Signal] | None,
    model_hidden_reason: str,
) -> SignalsPanel:
    """`model_signals`: the explanation's numeric features (None: no model view to show,
    `model_hidden_reason` says why)."""
    contributions = {s.name: s.weight for s in model_signals or ()}
    rows = []
    for feature in NUMERIC_FEATURES:
        value = finite_or_none(getattr(merchant, feature))
        if value is None:
            shown, percentile, rank = "unavailable: the stored value is not a number", "", None
        else:
            shown = _FORMATS[feature](value)
            rank = table.percentile(feature, value) if table is not None else None
            percentile = (
                _percentile_words(rank)
                if rank is not None
                else "no percentile: no merchants to compare with yet"
            )
        direction, effect = _effect(feature, contributions, model_signals, model_hidden_reason)
        rows.append(
            SignalRow(feature, feature_label(feature), shown, percentile, rank, direction, effect)
        )
    note = model_hidden_reason if model_signals is None else ""
    return SignalsPanel(rows=rows, basis=_basis(table), model_note=note)


def _percentile_words(rank: float) -> str:
    whole = min(99, max(1, round(rank)))
    return f"{ordinal(whole)} percentile"


def _effect(
    feature: str,
    contributions: dict[str, float],
    model_signals: Iterable[Signal] | None,
    hidden_reason: str,
) -> tuple[str, str]:
    if model_signals is None:
        return "", hidden_reason
    weight = contributions.get(feature)
    if weight is None:
        return "", "not in the model's explanation"
    if weight > 0:
        return "up", f"raised the score (+{weight:.2f})"
    if weight < 0:
        return "down", f"lowered the score ({weight:.2f})"
    return "", "no effect on the score"


def _basis(table: PopulationTable | None) -> str:
    if table is None:
        return "No percentiles: there are no merchants to compare with yet."
    when = timezone.localtime(table.computed_at).strftime("%H:%M %Z")
    sample = " (a sample of every k-th merchant)" if table.sampled else ""
    return f"Percentiles among {table.merchants:,} merchants{sample}, computed at {when}."
