"""Tables, target checks and charts for bench/active_learning.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from active_learning_data import Dataset
from active_learning_loop import STRATEGY_NAMES, RunResult
from active_learning_plots import line_chart

FIRST_REVIEWS = 200
TARGET_SHARE = 0.95  # of the full-data PR-AUC
MAX_LABEL_RATIO = 1.2  # mix against pure uncertainty
MIN_FOUND_RATIO = 0.9  # mix against pure top-risk, first 200 reviews
MIN_COVERAGE = 0.93
CHECKPOINTS = (50, 100, 200, 300, 400)  # labels at which the mix's coverage is tabled


def _at(run: RunResult, labels: int) -> int | None:
    """Index of the first round after which the run held at least `labels` labels."""
    for i, held in enumerate(run.estimated_at):
        if held >= labels:
            return i
    return None


def _coverage(runs: Sequence[RunResult], labels: int, which: str) -> dict[str, Any] | None:
    covered, widths, errors = [], [], []
    for run in runs:
        i = _at(run, labels)
        if i is None:
            continue
        value, low, high = getattr(run, which)[i]
        truth = run.recall_truth[i] if which.startswith("recall") else run.truth
        if np.isnan(value) or np.isnan(truth):
            continue
        covered.append(low <= truth <= high)
        widths.append(high - low)
        errors.append(value - truth)
    if not covered:
        return None
    share = float(np.mean(covered))
    return {
        "share": share,
        "se": float(np.sqrt(share * (1 - share) / len(covered))),
        "runs": len(covered),
        "width": float(np.mean(widths)),
        "bias": float(np.mean(errors)),
    }


def _median(values: Sequence[float | None]) -> float:
    return float(np.median([np.inf if v is None else v for v in values]))


def summarise(data: Dataset, learning: Sequence[RunResult], coverage: Sequence[RunResult]):
    """Per strategy: labels to 95 % of full-data PR-AUC, violations found, coverage."""
    full = float(np.median([r.full_pr_auc for r in learning]))
    rows: dict[str, dict[str, Any]] = {}
    for strategy in STRATEGY_NAMES:
        runs = [r for r in learning if r.strategy == strategy]
        if not runs:
            continue
        needed = [r.labels_to_reach(TARGET_SHARE * r.full_pr_auc) for r in runs]
        found = [r.found(FIRST_REVIEWS) for r in runs]
        replicated = [r for r in coverage if r.strategy == strategy]
        rows[strategy] = {
            "labels_to_95": needed,
            "labels_to_95_median": _median(needed),
            "found_first_200": found,
            "found_first_200_median": float(np.median(found)),
            "per_100_reviews": float(
                np.median([100 * r.found(len(r.reviewed)) / len(r.reviewed) for r in runs])
            ),
            "coverage_ipw": _coverage(replicated, data.coverage_budget, "assisted"),
            "coverage_plain": _coverage(replicated, data.coverage_budget, "prevalence"),
            "coverage_naive": _coverage(replicated or runs, data.coverage_budget, "naive"),
            "final_labels": int(np.median([r.labels[-1] for r in runs])),
            "recall": {
                which: _coverage(replicated, data.coverage_budget, which)
                for which in ("recall", "recall_plain")
            },
            "coverage_by_labels": {
                labels: {
                    which: _coverage(replicated, labels, which)
                    for which in ("assisted", "prevalence", "naive")
                }
                for labels in CHECKPOINTS
                if replicated and labels <= data.coverage_budget
            },
        }
    targets = {}
    if {"mix", "uncertainty", "risk"} <= set(rows):
        mix, unc, risk = rows["mix"], rows["uncertainty"], rows["risk"]
        ratio = mix["labels_to_95_median"] / unc["labels_to_95_median"]
        found_ratio = mix["found_first_200_median"] / max(risk["found_first_200_median"], 1e-9)
        ipw, naive = mix["coverage_ipw"], mix["coverage_naive"]
        targets = {
            "labels_ratio": ratio,
            "labels_met": bool(ratio <= MAX_LABEL_RATIO),
            "found_ratio": found_ratio,
            "found_met": bool(found_ratio >= MIN_FOUND_RATIO),
            "coverage_met": bool(
                ipw is not None
                and ipw["share"] >= MIN_COVERAGE
                and naive is not None
                and naive["share"] < MIN_COVERAGE
            ),
        }
    return {
        "pool": round(len(data.y) * 0.75),
        "prevalence": float(np.mean(data.y)),
        "full_pr_auc": full,
        "batch": data.batch,
        "budget": data.budget,
        "coverage_budget": data.coverage_budget,
        "strategies": rows,
        "targets": targets,
    }


def _labels(value: float, budget: int) -> str:
    return f"> {budget}" if np.isinf(value) else f"{value:.0f}"


def _spread(values: Sequence[int | None], budget: int) -> str:
    finite = [v for v in values if v is not None]
    missing = len(values) - len(finite)
    if not finite:
        return f"all > {budget}"
    low = min(finite) if finite else None
    high = f"> {budget}" if missing else str(max(finite))
    return f"{low if low is not None else f'> {budget}'}-{high}"


def _cover(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return "n/a"
    return f"{100 * cell['share']:.1f} % (±{100 * cell['se']:.1f}, n={cell['runs']})"


def _frontier(
    points: Sequence[tuple[Mapping[str, float], Sequence[RunResult]]], s: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each mix's labels to 95 % and violations in the first 200 reviews, against pure
    uncertainty's labels and pure top-risk's violations."""
    rows = s["strategies"]
    out = []
    for mix, runs in points:
        if not runs:
            continue
        needed = _median([r.labels_to_reach(TARGET_SHARE * r.full_pr_auc) for r in runs])
        found = float(np.median([r.found(FIRST_REVIEWS) for r in runs]))
        out.append(
            {
                "shares": dict(mix),
                "labels_to_95_median": needed,
                "found_first_200_median": found,
                "labels_ratio": needed / rows["uncertainty"]["labels_to_95_median"],
                "found_ratio": found / max(rows["risk"]["found_first_200_median"], 1e-9),
                "budget": max(r.labels[-1] for r in runs),
            }
        )
    return out


def _frontier_table(points: Sequence[Mapping[str, Any]], data: Dataset) -> list[str]:
    lines = [
        "Trade-off (mixes of risk and uncertainty, audit share kept):",
        "",
        "| shares | labels to 95 % (median) | x pure uncertainty | violations in first 200 "
        "| x pure top-risk |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in points:
        shares = ", ".join(f"{k} {v:.2f}" for k, v in p["shares"].items() if v > 0)
        lines.append(
            f"| {shares} | {_labels(p['labels_to_95_median'], p['budget'])} | "
            f"{p['labels_ratio']:.2f} | {p['found_first_200_median']:.0f} | "
            f"{p['found_ratio']:.2f} |"
        )
    return lines


def _width(cell: Mapping[str, Any] | None) -> str:
    return "n/a" if cell is None else f"{cell['width']:.3f}"


def report(results: Mapping[str, Any], *, header: str) -> tuple[str, dict[str, Any]]:
    lines = [header, ""]
    summary = {}
    for name, parts in results.items():
        data: Dataset = parts["dataset"]
        s = summarise(data, parts["learning"], parts["coverage"])
        summary[name] = s
        lines += [
            f"### {name}: pool {s['pool']}, {100 * s['prevalence']:.1f} % violating, "
            f"full-data PR-AUC {s['full_pr_auc']:.3f} (median over seeds), "
            f"{data.batch} reviews a round, {data.budget} labels a run",
            "",
            "| strategy | labels to 95 % of full PR-AUC: median (range) | violations in first "
            "200 reviews: median (range) | violations / 100 reviews | 95 % prevalence interval "
            f"covers the truth at {data.coverage_budget} labels: IPW (model-assisted, hull) "
            "| plain HT | naive | IPW width |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for strategy, row in s["strategies"].items():
            found = row["found_first_200"]
            ipw = row["coverage_ipw"]
            lines.append(
                f"| {strategy} | {_labels(row['labels_to_95_median'], data.budget)} "
                f"({_spread(row['labels_to_95'], data.budget)}) | "
                f"{row['found_first_200_median']:.0f} ({min(found)}-{max(found)}) | "
                f"{row['per_100_reviews']:.1f} | {_cover(ipw)} | "
                f"{_cover(row['coverage_plain'])} | {_cover(row['coverage_naive'])} | "
                f"{_width(ipw)} |"
            )
        by_labels = s["strategies"].get("mix", {}).get("coverage_by_labels")
        if by_labels:
            lines += [
                "",
                "Default mix, coverage of the 95 % prevalence interval by labels held:",
                "",
                "| labels | IPW (model-assisted, hull with plain HT) | plain HT | naive "
                "| IPW width |",
                "| --- | --- | --- | --- | --- |",
            ]
            for labels, cells in by_labels.items():
                lines.append(
                    f"| {labels} | {_cover(cells['assisted'])} | {_cover(cells['prevalence'])} "
                    f"| {_cover(cells['naive'])} | {_width(cells['assisted'])} |"
                )
            recall = s["strategies"]["mix"]["recall"]
            if recall["recall"] is not None and recall["recall_plain"] is not None:
                lines += [
                    "",
                    f"Default mix, recall at {data.coverage_budget} labels: IPW interval covers "
                    f"{_cover(recall['recall'])}, mean error {recall['recall']['bias']:+.3f} "
                    f"(width {recall['recall']['width']:.3f}); plain HT "
                    f"{_cover(recall['recall_plain'])}, mean error "
                    f"{recall['recall_plain']['bias']:+.3f}.",
                ]
        if parts.get("frontier"):
            s["frontier"] = _frontier(parts["frontier"], s)
            lines += ["", *_frontier_table(s["frontier"], data)]
        t = s["targets"]
        if t:
            lines += [
                "",
                f"Targets: mix/uncertainty labels {t['labels_ratio']:.2f}x "
                f"(≤ {MAX_LABEL_RATIO}: {'met' if t['labels_met'] else 'missed'}); mix/risk "
                f"violations in the first 200 {t['found_ratio']:.2f} (≥ {MIN_FOUND_RATIO}: "
                f"{'met' if t['found_met'] else 'missed'}); coverage IPW ≥ "
                f"{100 * MIN_COVERAGE:.0f} % and naive below: "
                f"{'met' if t['coverage_met'] else 'missed'}.",
            ]
        lines.append("")
    return "\n".join(lines), summary


def _grid_median(
    runs: Sequence[RunResult], grid: np.ndarray, x: str, y: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    curves = np.array(
        [np.interp(grid, getattr(r, x), getattr(r, y), right=np.nan) for r in runs], float
    )
    return (
        np.nanmedian(curves, axis=0),
        np.nanpercentile(curves, 25, axis=0),
        np.nanpercentile(curves, 75, axis=0),
    )


def write_plots(results: Mapping[str, Any], summary: Mapping[str, Any], out: Path) -> list[Path]:
    written = []
    for name, parts in results.items():
        points = summary[name].get("frontier")
        if points:
            risk_part = [p["shares"]["risk"] / (1 - p["shares"]["audit"]) for p in points]
            path = out / f"active_learning_{name}_tradeoff.svg"
            line_chart(
                path,
                title=f"{name}: mixes from all-uncertainty to all-risk (medians over seeds)",
                x_label="risk's part of the non-audit capacity",
                y_label="ratio",
                series={
                    "labels to 95 % / uncertainty's": (
                        risk_part,
                        [
                            p["labels_ratio"] if np.isfinite(p["labels_ratio"]) else np.nan
                            for p in points
                        ],
                    ),
                    "violations in first 200 / top-risk's": (
                        risk_part,
                        [p["found_ratio"] for p in points],
                    ),
                },
                hlines={"1.2": MAX_LABEL_RATIO, "0.9": MIN_FOUND_RATIO},
            )
            written.append(path)
        data: Dataset = parts["dataset"]
        learning: list[RunResult] = parts["learning"]
        grid = np.arange(10, data.budget + 1, max(data.batch // 2, 1), dtype=float)
        series, bands = {}, {}
        for strategy in STRATEGY_NAMES:
            runs = [r for r in learning if r.strategy == strategy]
            if runs:
                median, low, high = _grid_median(runs, grid, "labels", "pr_auc")
                series[strategy] = (grid, median)
                bands[strategy] = (grid, low, high)
        full = float(np.median([r.full_pr_auc for r in learning]))
        path = out / f"active_learning_{name}_pr_auc.svg"
        line_chart(
            path,
            title=f"{name}: held-out PR-AUC (median and quartiles over seeds)",
            x_label="labels",
            y_label="PR-AUC",
            series=series,
            bands=bands,
            hlines={"95 % of full-data": TARGET_SHARE * full, "full data": full},
        )
        written.append(path)
        reviews = np.arange(1, data.budget + 1)
        found = {}
        for strategy in STRATEGY_NAMES:
            runs = [r for r in learning if r.strategy == strategy]
            if runs:
                cumulative = [np.cumsum(r.reviewed)[: data.budget] for r in runs]
                length = min(len(c) for c in cumulative)
                found[strategy] = (
                    reviews[:length],
                    np.median([c[:length] for c in cumulative], axis=0),
                )
        path = out / f"active_learning_{name}_found.svg"
        line_chart(
            path,
            title=f"{name}: violations found (median over seeds)",
            x_label="reviews",
            y_label="violations found",
            series=found,
        )
        written.append(path)
        coverage_runs = [r for r in parts["coverage"] if r.strategy == "mix"]
        if coverage_runs:
            checkpoints = np.arange(data.batch * 2, data.coverage_budget + 1, data.batch)
            lines = {}
            for which, label in (
                ("assisted", "IPW (model-assisted, hull)"),
                ("prevalence", "IPW, plain HT"),
                ("naive", "naive"),
            ):
                shares = [_coverage(coverage_runs, int(c), which) for c in checkpoints]
                lines[label] = (
                    checkpoints,
                    np.array([np.nan if v is None else v["share"] for v in shares]),
                )
            path = out / f"active_learning_{name}_coverage.svg"
            line_chart(
                path,
                title=f"{name}, default mix: 95 % prevalence interval covers the truth "
                f"({len(coverage_runs)} runs)",
                x_label="labels",
                y_label="share of runs",
                series=lines,
                hlines={"0.95": 0.95, "0.93": 0.93},
                y_range=(0.0, 1.0),
            )
            written.append(path)
    return written
