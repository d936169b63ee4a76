"""The geometry of a model page's SVG plots: the reliability diagram and the
precision-recall curves of a version and its champion, both axes from 0 to 1."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from supportability.ml.evaluation import Evaluation


@dataclass(frozen=True)
class Tick:
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class PlotPoint:
    x: float
    y: float
    r: float
    title: str


@dataclass(frozen=True)
class PlotSeries:
    name: str
    index: int  # the CSS class series-<index>
    points: tuple[PlotPoint, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Plot:
    """An SVG drawing's numbers: both axes run from 0 to 1 over a square."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: tuple[Tick, ...]
    series: tuple[PlotSeries, ...]
    x_label: str
    y_label: str
    diagonal: bool  # the y = x reference (perfect calibration)
    lines: bool  # join each series' points

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


PLOT_SIDE = 280


PointSpec = tuple[float, float, float, str]  # x, y in [0, 1], radius, title


def _plot(
    series: Sequence[tuple[str, Sequence[PointSpec]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool,
    lines: bool,
) -> Plot | None:
    """``series`` is (name, [(x, y, radius, title)]) with x and y in [0, 1]."""
    if not any(points for _, points in series):
        return None
    left, top = 58, 10
    right, bottom = left + PLOT_SIDE, top + PLOT_SIDE

    def px(value: float) -> float:
        return left + min(max(value, 0.0), 1.0) * PLOT_SIDE

    def py(value: float) -> float:
        return bottom - min(max(value, 0.0), 1.0) * PLOT_SIDE

    drawn = tuple(
        PlotSeries(name, i, tuple(PlotPoint(px(x), py(y), r, t) for x, y, r, t in points))
        for i, (name, points) in enumerate(series, start=1)
        if points
    )
    ticks = tuple(Tick(f"{v:g}", px(v), py(v)) for v in (0.0, 0.25, 0.5, 0.75, 1.0))
    return Plot(
        width=right + 14,
        height=bottom + 36,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        ticks=ticks,
        series=drawn,
        x_label=x_label,
        y_label=y_label,
        diagonal=diagonal,
        lines=lines,
    )


def _bin_point(name: str, predicted: float, observed: float, share: float) -> PointSpec:
    radius = 2.5 + 10 * math.sqrt(max(share, 0.0))
    title = f"{name}: predicted {predicted:.2f}, observed {observed:.2f}, {share:.0%} of the weight"
    return predicted, observed, radius, title


def reliability_plot(curves: Sequence[tuple[str, Evaluation | None]]) -> Plot | None:
    """Observed violating share against mean predicted probability per bin; a point's area
    grows with the bin's share of the (propensity-weighted) labels."""
    series = [
        (name, [_bin_point(name, *row) for row in e.reliability] if e else []) for name, e in curves
    ]
    return _plot(
        series,
        x_label="mean predicted probability",
        y_label="observed share violating",
        diagonal=True,
        lines=False,
    )


def pr_plot(curves: Sequence[tuple[str, Evaluation | None]]) -> Plot | None:
    def point(name: str, recall: float, precision: float) -> PointSpec:
        return recall, precision, 2.0, f"{name}: recall {recall:.2f}, precision {precision:.2f}"

    series = [(name, [point(name, *rp) for rp in e.pr_curve] if e else []) for name, e in curves]
    return _plot(series, x_label="recall", y_label="precision", diagonal=False, lines=True)
