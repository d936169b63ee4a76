"""Active learning offline: which review strategy teaches the model fastest, which finds the
most violations, and are the queue's prevalence estimates honest?

    .venv/bin/python bench/active_learning.py                 # 10 seeds, all datasets
    .venv/bin/python bench/active_learning.py --quick         # a small smoke run
    .venv/bin/python bench/active_learning.py --datasets digits breast_cancer --seeds 5

No server and no database: the loop runs on arrays (`bench/active_learning_loop.simulate`),
with `labeling.strategies` and `labeling.estimation`, the code the live queue uses, and
simulated analysts who return the true label (our pipeline's measured clean-label accuracy
is 0.991, so label noise is left out here). Datasets (`bench/active_learning_data.py`): the
synthetic merchant world (20,000 merchants, 5 % violating), scikit-learn's breast cancer
(malignant = violating, 37 %) and digits (an 8 against the rest, 10 %).

Strategies: random (uniform Poisson), uncertainty (top-k margin), risk (top-k risk), mix
(`DEFAULT_SHARES` through `strategy_weights` + `round_draw`, as the live queue) and bandit
(`bandit_shares`, rewarded by violations per review). Each learning run (one per strategy
and seed) holds out a stratified quarter for PR-AUC and runs to the dataset's label budget.

Measured: labels needed to reach 95 % of the full-data PR-AUC (the same model trained on
every pool label), violations among the first 200 reviews and per 100 reviews, and the
coverage of the 95 % prevalence interval: IPW (`estimation.prevalence` given the model's
predictions: model-assisted value, hull with the plain interval), plain Horvitz-Thompson
(no predictions) and naive (unweighted share of reviewed merchants). Coverage needs
hundreds of runs to be known within 2 points, more than the learning seeds: the Poisson
strategies are re-run `--coverage-runs` times (seeds 1000, 1001, ...; a third as many for
random and bandit) up to a smaller label budget without the held-out evaluation, each run
the full adaptive loop (retraining every round); the interval after each round is checked
against the pool's true prevalence. `--frontier` also runs mixes from all-uncertainty to
all-risk, to show the trade-off between the two learning and finding targets.

Writes bench/out/active_learning.{json,md} and SVG charts bench/out/active_learning_*.svg.

`--smoke`: every dataset, strategy and the frontier with one seed, 3 coverage runs, 400
synthetic merchants and at most 100 labels a run, in one process, writing to a temporary
folder; fails unless every strategy ran and the report and charts were written.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module: put the repository root there instead, and
# this folder last (for the active_learning_* helpers).
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.append(str(ROOT / "bench"))

import argparse
import dataclasses
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from active_learning_data import DATASETS, Dataset, load
from active_learning_loop import STRATEGY_NAMES, RunResult, full_data_pr_auc, simulate
from active_learning_report import report, write_plots

from bench import smoke
from labeling import strategies

OUT = ROOT / "bench" / "out"
POISSON = ("random", "mix", "bandit")
FRONTIER = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)  # risk's part of the non-audit capacity
FRONTIER_BUDGET = 1_000
SMOKE = {
    "seeds": 1,
    "coverage_runs": 3,
    "synthetic_size": 400,
    "jobs": 1,
    "frontier": True,
    "max_budget": 100,
}

_DATA: dict[str, Dataset] = {}


def _full_task(name: str, seed: int) -> tuple[str, int, float]:
    data = _DATA[name]
    return name, seed, full_data_pr_auc(data.X, data.y, seed=seed)


def _learning_task(
    name: str,
    strategy: str,
    seed: int,
    full: float,
    shares: dict[str, float] | None = None,
    budget: int | None = None,
) -> RunResult:
    data = _DATA[name]
    return simulate(
        data.X,
        data.y,
        strategy=strategy,
        seed=seed,
        volume=data.volume,
        groups=data.groups,
        batch=data.batch,
        budget=budget or data.budget,
        shares=shares,
        full_pr_auc=full,
        estimate_until=data.coverage_budget,
    )


def _capped(data: Dataset, max_budget: int | None) -> Dataset:
    if max_budget is None:
        return data
    return dataclasses.replace(
        data,
        budget=min(data.budget, max_budget),
        coverage_budget=min(data.coverage_budget, max_budget),
    )


def frontier_shares() -> list[dict[str, float]]:
    """Mixes from all-uncertainty to all-risk, the audit share kept at the default's."""
    audit = strategies.DEFAULT_SHARES["audit"]
    rest = 1.0 - audit
    return [
        {"risk": r * rest, "uncertainty": (1 - r) * rest, "diversity": 0.0, "audit": audit}
        for r in FRONTIER
    ]


def _coverage_task(name: str, strategy: str, seed: int) -> RunResult:
    data = _DATA[name]
    return simulate(
        data.X,
        data.y,
        strategy=strategy,
        seed=seed,
        volume=data.volume,
        groups=data.groups,
        batch=data.batch,
        budget=data.coverage_budget,
        evaluate=False,
    )


def run(
    names: Sequence[str],
    *,
    seeds: int,
    coverage_runs: int,
    jobs: int,
    synthetic_size: int,
    frontier: bool = False,
    max_budget: int | None = None,
) -> dict[str, Any]:
    """Every learning and coverage run of `names`; returns the raw results by dataset.
    `max_budget` caps each dataset's labels per run (learning and coverage)."""
    for name in names:
        _DATA[name] = _capped(load(name, synthetic_size=synthetic_size), max_budget)
    context = multiprocessing.get_context("fork")  # the workers inherit the loaded data
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        fulls = {
            (name, seed): value
            for name, seed, value in pool.map(
                _full_task, *zip(*[(n, s) for n in names for s in range(seeds)], strict=True)
            )
        }
        learning = {
            (name, strategy, seed): pool.submit(
                _learning_task, name, strategy, seed, fulls[(name, seed)]
            )
            for name in names
            for strategy in STRATEGY_NAMES
            for seed in range(seeds)
        }
        coverage = {
            (name, strategy, seed): pool.submit(_coverage_task, name, strategy, seed)
            for name in names
            for strategy in POISSON
            for seed in range(
                1000, 1000 + (coverage_runs if strategy == "mix" else max(coverage_runs // 3, 1))
            )
        }
        mixes = frontier_shares() if frontier else []
        # Runs past the frontier budget cannot meet the label target anyway.
        frontier_runs = {
            (name, i, seed): pool.submit(
                _learning_task,
                name,
                "mix",
                seed,
                fulls[(name, seed)],
                mix,
                min(_DATA[name].budget, FRONTIER_BUDGET),
            )
            for name in names
            for i, mix in enumerate(mixes)
            for seed in range(seeds)
        }
        results: dict[str, Any] = {
            name: {
                "learning": [],
                "coverage": [],
                "frontier": [(mix, []) for mix in mixes],
                "dataset": _DATA[name],
            }
            for name in names
        }
        for (name, _, _), future in learning.items():
            results[name]["learning"].append(future.result())
        for (name, _, _), future in coverage.items():
            results[name]["coverage"].append(future.result())
        for (name, i, _), future in frontier_runs.items():
            results[name]["frontier"][i][1].append(future.result())
    return results


def run_and_write(args: argparse.Namespace) -> tuple[dict[str, Any], list[Path]]:
    """Run, print the report, write it and the charts to `args.out`; return the summary
    and the files written."""
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = run(
        args.datasets,
        seeds=args.seeds,
        coverage_runs=args.coverage_runs,
        jobs=args.jobs,
        synthetic_size=args.synthetic_size,
        frontier=args.frontier,
        max_budget=args.max_budget,
    )
    elapsed = time.perf_counter() - started
    header = (
        f"`{' '.join(sys.argv)}`: {args.seeds} seeds, {args.coverage_runs} coverage runs "
        f"(mix; {max(args.coverage_runs // 3, 1)} for random and bandit), {args.jobs} "
        f"processes, {elapsed:.0f} s. DEFAULT_SHARES = {strategies.DEFAULT_SHARES}, "
        f"sharpness risk {strategies.RISK_SHARPNESS:g} / uncertainty "
        f"{strategies.UNCERTAINTY_SHARPNESS:g}, uncertainty floor "
        f"{strategies.UNCERTAINTY_FLOOR:g}."
    )
    text, summary = report(results, header=header)
    print(text)
    written = [args.out / "active_learning.md", args.out / "active_learning.json"]
    written[0].write_text(text + "\n", encoding="utf-8")
    written[1].write_text(
        json.dumps({"elapsed_s": elapsed, "summary": summary}, indent=1, default=_json),
        encoding="utf-8",
    )
    for path in write_plots(results, summary, args.out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        written.append(path)
    return summary, written


def smoke_checks(summary: dict[str, Any], written: list[Path], datasets: Sequence[str]) -> None:
    for name in datasets:
        ran = set(summary[name]["strategies"])
        smoke.check(ran == set(STRATEGY_NAMES), f"{name}: only {sorted(ran)} ran")
        smoke.check(bool(summary[name]["targets"]), f"{name}: no target checked")
        smoke.check(len(summary[name].get("frontier", [])) == len(FRONTIER), f"{name}: frontier")
    charts = [path for path in written if path.suffix == ".svg"]
    smoke.check(len(charts) == 4 * len(datasets), f"{len(charts)} charts written")
    smoke.check(all(path.stat().st_size > 0 for path in written), "an empty file was written")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="learning runs per strategy")
    parser.add_argument("--coverage-runs", type=int, default=300, help="replications (mix)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--synthetic-size", type=int, default=20_000)
    parser.add_argument("--max-budget", type=int, help="at most this many labels a run")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 12 coverage runs")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--frontier",
        action="store_true",
        help="also run mixes from all-uncertainty to all-risk (the trade-off of the targets)",
    )
    smoke.add_flag(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.coverage_runs, args.synthetic_size = 2, 12, 5_000
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="active-learning-smoke-") as scratch:
            smoke.shrink(args, **SMOKE, out=Path(scratch))
            summary, written = run_and_write(args)
            smoke_checks(summary, written, args.datasets)
        return
    run_and_write(args)


def _json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


if __name__ == "__main__":
    main()
