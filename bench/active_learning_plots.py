"""Line charts as hand-written SVG for bench/active_learning.py (matplotlib is not a
dependency of the project, and these charts need nothing more than lines and text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 760, 400
LEFT, RIGHT, TOP, BOTTOM = 64, 250, 40, 50
Values = Sequence[float] | np.ndarray
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f")


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** np.floor(np.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * step:
            step *= multiple
            break
    first = np.ceil(low / step) * step
    return [float(v) for v in np.arange(first, high + step * 1e-9, step)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def line_chart(
    path: Path,
    *,
    title: str,
    x_label: str,
    y_label: str,
    series: Mapping[str, tuple[Values, Values]],
    bands: Mapping[str, tuple[Values, Values, Values]] | None = None,
    hlines: Mapping[str, float] | None = None,
    y_range: tuple[float, float] | None = None,
) -> None:
    """One line per series (name -> (x, y)); optional shaded bands (name -> (x, low, high),
    drawn in the colour of the series of that name) and labelled horizontal lines."""
    xs = np.concatenate([np.asarray(x, float) for x, _ in series.values()])
    ys = np.concatenate([np.asarray(y, float) for _, y in series.values()])
    if bands:
        ys = np.concatenate([ys, *(np.asarray(b[1], float) for b in bands.values())])
        ys = np.concatenate([ys, *(np.asarray(b[2], float) for b in bands.values())])
    if hlines:
        ys = np.concatenate([ys, np.array(list(hlines.values()), float)])
    x0, x1 = float(np.nanmin(xs)), float(np.nanmax(xs))
    y0, y1 = y_range if y_range else (float(np.nanmin(ys)), float(np.nanmax(ys)))
    if y1 <= y0:
        y1 = y0 + 1.0
    if x1 <= x0:
        x1 = x0 + 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#444"/>',
    ]
    for tick in _ticks(x0, x1):
        out.append(
            f'<line x1="{px(tick):.1f}" y1="{TOP + plot_h}" x2="{px(tick):.1f}" '
            f'y2="{TOP + plot_h + 4}" stroke="#444"/><text x="{px(tick):.1f}" '
            f'y="{TOP + plot_h + 16}" text-anchor="middle">{_label(tick)}</text>'
        )
    for tick in _ticks(y0, y1):
        out.append(
            f'<line x1="{LEFT}" y1="{py(tick):.1f}" x2="{LEFT + plot_w}" y2="{py(tick):.1f}" '
            f'stroke="#eee"/><text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" '
            f'text-anchor="end">{_label(tick)}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">{escape(y_label)}</text>'
    )
    colour = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(series)}
    for name, (x, low, high) in (bands or {}).items():
        corners = [(px(a), py(b)) for a, b in zip(x, low, strict=True)]
        corners += [(px(a), py(b)) for a, b in reversed(list(zip(x, high, strict=True)))]
        corners = [(a, b) for a, b in corners if np.isfinite(a) and np.isfinite(b)]
        path_d = " ".join(f"{a:.1f},{b:.1f}" for a, b in corners)
        out.append(f'<polygon points="{path_d}" fill="{colour.get(name, "#999")}" opacity="0.15"/>')
    for j, (name, value) in enumerate((hlines or {}).items()):
        anchor, at = ("end", LEFT + plot_w - 4) if j % 2 == 0 else ("start", LEFT + 4)
        out.append(
            f'<line x1="{LEFT}" y1="{py(value):.1f}" x2="{LEFT + plot_w}" y2="{py(value):.1f}" '
            f'stroke="#888" stroke-dasharray="4 3"/><text x="{at}" '
            f'y="{py(value) - 4:.1f}" text-anchor="{anchor}" fill="#666">{escape(name)}</text>'
        )
    for i, (name, (x, y)) in enumerate(series.items()):
        keep = [(a, b) for a, b in zip(x, y, strict=True) if np.isfinite(a) and np.isfinite(b)]
        if keep:
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in keep)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{colour[name]}" '
                'stroke-width="1.8"/>'
            )
        legend_y = TOP + 14 + 18 * i
        out.append(
            f'<line x1="{LEFT + plot_w + 10}" y1="{legend_y - 4}" x2="{LEFT + plot_w + 30}" '
            f'y2="{legend_y - 4}" stroke="{colour[name]}" stroke-width="2"/>'
            f'<text x="{LEFT + plot_w + 36}" y="{legend_y}">{escape(name)}</text>'
        )
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
