"""Geometry for the small server-rendered SVG charts of the lead's pages: the templates
draw the shapes; this only scales values to pixels, fits the labels and says in words what
each chart shows (its text alternative).

Every chart is readable without colour: each series has a pattern of its own (solid,
hatched, dotted) or a marker shape and dash, the legend draws the same swatch beside the
series' name, and values are written beside their bars or in a table.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

ROW = 18  # pixels per bar
LABEL_WIDTH = 170  # the category or analyst names, left of the bars
VALUE_ROOM = 40  # room for a negative bar's number, between the names and the bars
BAR_SPACE = 300  # pixels for the whole value range
# The labels are drawn at 12 px; a character of system-ui is at most about 7 px wide there
# (measured in chromium: "Pseudo-pharmaceuticals" is 138 px), so a line holds this many.
CHAR_PX = 7.0
LABEL_LINES = 2
# A series' look, by position: the CSS class of its fill or stroke, and its pattern name.
PATTERNS = ("solid", "hatched", "dotted")
MARKERS = ("circle", "square", "triangle")


@dataclass(frozen=True)
class Bar:
    series: str
    value: float | None
    x: float
    y: float
    width: float
    height: float
    pattern: str
    # Where the bar's number is written, and which way the text runs from there.
    text_x: float
    text_anchor: str

    @property
    def text(self) -> str:
        return "none" if self.value is None else f"{self.value:.2f}"


@dataclass(frozen=True)
class Row:
    label: str  # whole, for the tooltip and the text alternative
    lines: tuple[str, ...]  # as drawn: wrapped, the last line cut with "…" if need be
    y: float
    bars: list[Bar]

    @property
    def cut(self) -> bool:
        return " ".join(self.lines).replace("…", "") != self.label


@dataclass(frozen=True)
class LegendKey:
    name: str
    pattern: str
    index: int


@dataclass(frozen=True)
class Chart:
    rows: list[Row]
    width: int
    height: int
    zero_x: float
    # The value range drawn (-1 or 0 to 1) and its ticks, as (x, label).
    low: float
    ticks: list[tuple[float, str]]
    series: list[str]
    description: str

    @property
    def label_x(self) -> int:
        """Where the names end (they are drawn right-aligned, 4 px from the left edge)."""
        return LABEL_WIDTH - 4

    @property
    def legend(self) -> list[LegendKey]:
        return [
            LegendKey(name, PATTERNS[i % len(PATTERNS)], i + 1)
            for i, name in enumerate(self.series)
        ]


def fit_label(
    label: str, *, width: float = LABEL_WIDTH - 8, lines: int = LABEL_LINES
) -> tuple[str, ...]:
    """The label wrapped into at most `lines` lines that fit `width` pixels; the last line
    ends in "…" when the label is longer (the tooltip has it whole)."""
    chars = max(4, int(width // CHAR_PX))
    wrapped = textwrap.wrap(label, chars, break_long_words=True) or [""]
    if len(wrapped) <= lines:
        return tuple(wrapped)
    kept = wrapped[:lines]
    rest = " ".join(wrapped[lines - 1 :])
    kept[-1] = rest[: chars - 1].rstrip() + "…"
    return tuple(kept)


def bar_chart(rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str]) -> Chart:
    """Horizontal grouped bars for values in [-1, 1] (agreement coefficients, rates). The
    axis starts at 0 unless a value is negative; then it runs from -1 and a negative value
    is a bar drawn left of the zero line, its number beside it."""
    kept = [(label, values) for label, values in rows if any(v is not None for v in values)]
    negative = any(v is not None and v < 0 for _, values in kept for v in values)
    low = -1.0 if negative else 0.0
    left = LABEL_WIDTH + VALUE_ROOM
    scale = BAR_SPACE / (1.0 - low)
    zero_x = left - low * scale
    band = max(ROW * len(series), 14 * LABEL_LINES) + 8

    def bar(top: float, k: int, name: str, value: float | None) -> Bar:
        clipped = max(low, min(1.0, value or 0.0))
        end = zero_x + clipped * scale
        x, width = min(zero_x, end), abs(end - zero_x)
        below = value is not None and value < 0
        return Bar(
            series=name,
            value=value,
            x=round(x, 1),
            y=top + k * ROW,
            width=round(width, 1),
            height=ROW - 3,
            pattern=PATTERNS[k % len(PATTERNS)],
            text_x=round(x - 4 if below else x + width + 4, 1),
            text_anchor="end" if below else "start",
        )

    out = []
    for index, (label, values) in enumerate(kept):
        top = index * band + 4
        bars = [
            bar(top, k, name, value)
            for k, (name, value) in enumerate(zip(series, values, strict=True))
        ]
        out.append(Row(label=label, lines=fit_label(label), y=top + band / 2 - 4, bars=bars))
    ticks = [(round(zero_x + v * scale, 1), f"{v:g}") for v in (low, 0.0, 1.0) if v >= low]
    ticks = list(dict.fromkeys(ticks))
    return Chart(
        rows=out,
        width=left + BAR_SPACE + 44,
        height=max(1, len(kept)) * band + 24,
        zero_x=round(zero_x, 1),
        low=low,
        ticks=ticks,
        series=list(series),
        description=describe(kept, series),
    )


def describe(rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str]) -> str:
    """The chart in words, for screen readers: each row's values by series."""
    parts = []
    for label, values in rows:
        figures = ", ".join(
            f"{name} {'none' if value is None else f'{value:.2f}'}"
            for name, value in zip(series, values, strict=True)
        )
        parts.append(f"{label}: {figures}")
    return "; ".join(parts) + "." if parts else "No values."


# Small trend charts (values over days) ----------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    value: float
    day: str


@dataclass(frozen=True)
class TrendSeries:
    name: str
    index: int  # 1-based: the CSS class and marker of the series
    marker: str
    points: tuple[TrendPoint, ...]
    label_y: float = 0.0  # where its end label is written: spread apart from the others

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def last(self) -> TrendPoint | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: tuple[TrendSeries, ...]
    gridlines: tuple[tuple[float, str], ...]
    days: tuple[str, ...]
    zero_y: float | None  # the zero line, when the range goes below zero
    description: str


def trend_chart(
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    low: float = 0.0,
    width: int = 420,
    height: int = 130,
) -> TrendChart | None:
    """Lines over days for values in [low, 1], one marker shape and dash per series and its
    last value written at the line's end. None when no series has a value."""
    if not any(v is not None for _, values in series for v in values):
        return None
    floor = min([low, *(v for _, values in series for v in values if v is not None)])
    floor = -1.0 if floor < 0 else 0.0
    left, right, top, bottom = 34, width - 96, 8, height - 20
    step = (right - left) / max(1, len(days) - 1)

    def y(value: float) -> float:
        return bottom - (value - floor) / (1.0 - floor) * (bottom - top)

    drawn = tuple(
        TrendSeries(
            name=name,
            index=i + 1,
            marker=MARKERS[i % len(MARKERS)],
            points=tuple(
                TrendPoint(left + d * step, y(v), v, days[d])
                for d, v in enumerate(values)
                if v is not None
            ),
        )
        for i, (name, values) in enumerate(series)
    )
    drawn = _spread_labels(drawn)
    marks = (floor, 0.0, 0.5, 1.0) if floor < 0 else (0.0, 0.5, 1.0)
    gridlines = tuple((round(y(v), 1), f"{v:g}") for v in dict.fromkeys(marks))
    words = "; ".join(
        f"{s.name}: "
        + (", ".join(f"{p.day} {p.value:.2f}" for p in s.points) if s.points else "no values")
        for s in drawn
    )
    return TrendChart(
        width, height, left, right, top, bottom, drawn, gridlines, tuple(days),
        round(y(0.0), 1) if floor < 0 else None, words + ".",
    )  # fmt: skip


LABEL_GAP = 13  # pixels between two end labels, so that they never overlap


def _spread_labels(series: tuple[TrendSeries, ...]) -> tuple[TrendSeries, ...]:
    """Each series' end label at its last point's height, pushed down just enough that
    no two labels overlap."""
    placed: dict[str, float] = {}
    floor = -float("inf")
    ends = sorted((s for s in series if s.last), key=lambda s: s.last.y if s.last else 0.0)
    for s in ends:
        y = max(s.last.y if s.last else 0.0, floor + LABEL_GAP)
        placed[s.name] = round(y, 1)
        floor = y
    return tuple(replace(s, label_y=placed.get(s.name, 0.0)) for s in series)


# Columns per day (throughput) ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    day: str  # "12-07"
    value: int
    x: float
    y: float
    width: float
    height: float

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    bottom: int
    columns: tuple[Column, ...]
    peak: int
    description: str


def column_chart(
    values: Sequence[tuple[str, int]], *, width: int = 420, height: int = 120
) -> ColumnChart:
    """One column per day, its count written above it and its day below."""
    bottom = height - 18
    peak = max([1, *(v for _, v in values)])
    slot = width / max(1, len(values))
    columns = tuple(
        Column(
            day=day,
            value=value,
            x=round(i * slot + slot * 0.15, 1),
            y=round(bottom - value / peak * (bottom - 16), 1),
            width=round(slot * 0.7, 1),
            height=round(value / peak * (bottom - 16), 1),
        )
        for i, (day, value) in enumerate(values)
    )
    words = ", ".join(f"{day}: {value}" for day, value in values)
    return ColumnChart(width, height, bottom, columns, peak, f"Labels per day: {words}.")
