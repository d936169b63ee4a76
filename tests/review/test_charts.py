from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string

from review.pages.charts import (
    CHAR_PX,
    LABEL_WIDTH,
    bar_chart,
    column_chart,
    fit_label,
    trend_chart,
)

SERIES = ("kappa", "alpha", "ac1")


def _render(chart, key="c"):
    return render_to_string("review/_chart.html", {"chart": chart, "key": key, "title": "T"})


def test_negative_value_is_a_bar_left_of_the_zero_line():
    chart = bar_chart([("Gambling", [-0.4, 0.2, 0.5])], SERIES)
    kappa, alpha, _ = chart.rows[0].bars
    assert chart.low == -1.0
    assert kappa.width > 0
    assert kappa.x + kappa.width == pytest.approx(chart.zero_x)  # ends at zero
    assert alpha.x == pytest.approx(chart.zero_x)  # a positive one starts there
    assert kappa.width == pytest.approx(0.4 / 0.2 * alpha.width)  # same scale both sides
    assert kappa.text_anchor == "end" and kappa.text_x < kappa.x  # its number beside it


def test_chart_without_negatives_starts_at_zero():
    chart = bar_chart([("Gambling", [0.4, 0.2, None])], SERIES)
    assert chart.low == 0.0
    assert [t[1] for t in chart.ticks] == ["0", "1"]


def test_rendered_negative_bar_has_width_and_its_value():
    html = _render(bar_chart([("Weapons", [-0.25, 0.1, 0.3])], SERIES))
    bar = re.search(r'<rect class="bar series-1"[^>]*>', html).group(0)
    width = float(re.search(r'width="([\d.]+)"', bar).group(1))
    assert width > 0 and 'data-value="-0.25"' in bar
    assert ">-0.25</text>" in html


def test_legend_keys_are_the_series_in_order():
    html = _render(bar_chart([("Gambling", [0.4, 0.2, 0.5])], SERIES))
    legend = re.findall(r'<span class="legend-key" data-series="([^"]+)"', html)
    drawn = list(
        dict.fromkeys(re.findall(r'<rect class="bar[^"]*"[^>]*data-series="([^"]+)"', html))
    )
    assert legend == drawn == list(SERIES)


def test_each_series_has_its_own_pattern_so_colour_is_not_needed():
    html = _render(bar_chart([("Gambling", [0.4, 0.2, 0.5])], SERIES), key="k")
    fills = re.findall(r'<rect class="bar series-\d"[^>]*fill="url\(#([\w-]+)\)"', html)
    assert fills == ["k-solid", "k-hatched", "k-dotted"]
    for fill in fills:
        assert f'<pattern id="{fill}"' in html


def test_long_label_is_wrapped_to_fit_and_whole_in_its_tooltip():
    name = "Unlicensed financial services and crypto exchanges"
    chart = bar_chart([(name, [0.4, 0.2, 0.5])], SERIES)
    row = chart.rows[0]
    assert len(row.lines) == 2
    assert all(len(line) * CHAR_PX <= LABEL_WIDTH - 8 for line in row.lines)
    assert row.lines[-1].endswith("…")
    html = _render(chart)
    assert f"<title>{name}</title>" in html


def test_short_label_stays_on_one_line():
    assert fit_label("Gambling") == ("Gambling",)


def test_chart_has_a_text_alternative():
    html = _render(bar_chart([("Gambling", [-0.4, None, 0.5])], SERIES))
    assert 'aria-labelledby="chart-c-title chart-c-desc"' in html
    assert '<desc id="chart-c-desc">Gambling: kappa -0.40, alpha none, ac1 0.50.</desc>' in html


def test_rows_without_any_value_are_left_out():
    chart = bar_chart([("Empty", [None, None, None]), ("Full", [0.1, 0.2, 0.3])], SERIES)
    assert [r.label for r in chart.rows] == ["Full"]


def test_trend_chart_drops_to_minus_one_for_a_negative_value_and_spreads_end_labels():
    chart = trend_chart(["12-01", "12-02"], [("kappa", [-0.2, 0.5]), ("alpha", [0.1, 0.5])])
    assert chart is not None and chart.zero_y is not None
    kappa, alpha = chart.series
    assert kappa.points[0].y > chart.zero_y  # below the zero line
    assert abs(kappa.label_y - alpha.label_y) >= 13  # equal values, labels apart


def test_trend_chart_is_none_without_values():
    assert trend_chart(["12-01"], [("kappa", [None])]) is None


def test_column_heights_scale_to_the_peak():
    chart = column_chart([("12-01", 5), ("12-02", 10), ("12-03", 0)])
    assert chart.columns[1].height == pytest.approx(2 * chart.columns[0].height)
    assert chart.columns[2].height == 0
    assert "12-02: 10" in chart.description
