"""Geometry for the small server-rendered SVG bar charts of the agreement page: the
template draws the rectangles; this only scales values to pixels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW = 22  # pixels per row
LABEL_WIDTH = 190
BAR_SPACE = 300


@dataclass(frozen=True)
class Bar:
    series: str
    value: float | None
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    rows: list[Row]
    width: int
    height: int
    zero_x: float
    series: list[str]


def bar_chart(rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str]) -> Chart:
    """Horizontal grouped bars for values in [-1, 1] (agreement coefficients, rates); the
    axis starts at 0, negative values are drawn as zero-width with their number shown."""
    band = ROW * len(series) + 8
    out = []
    rows = [(label, values) for label, values in rows if any(v is not None for v in values)]
    for index, (label, values) in enumerate(rows):
        top = index * band + 4
        bars = [
            Bar(
                series=name,
                value=value,
                x=LABEL_WIDTH,
                y=top + k * ROW,
                width=max(0.0, min(1.0, value or 0.0)) * BAR_SPACE,
                height=ROW - 4,
            )
            for k, (name, value) in enumerate(zip(series, values, strict=True))
        ]
        out.append(Row(label=label, y=top + band / 2 - 4, bars=bars))
    return Chart(
        rows=out,
        width=LABEL_WIDTH + BAR_SPACE + 60,
        height=max(1, len(rows)) * band + 8,
        zero_x=LABEL_WIDTH,
        series=list(series),
    )
