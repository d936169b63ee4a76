"""Label noise and clean labels: simulated analysts label a synthetic world through the
services; how right are raw labels, majority vote and our clean labels, what does the
noise check find, and does a model learn better from clean labels than from raw ones?

    .venv/bin/python bench/label_noise.py --seeds 1 2 3 4 5

Each seed runs in its own process on a fresh SQLite database (<tmp>/label_noise_<seed>.sqlite3
unless --db-dir says otherwise): a world of 12,000 merchants with hidden truth, a seed model
trained on 1,500 historical decisions, the rest scored, and a queue of about 3,000 drawn by
Poisson sampling (π ∝ √score, never below 0.02); 20 % of items need two blind labels and
gold is served at 2 %. Twelve analysts of accuracy drawn from 0.70-0.95 claim and label as
people do; two call gambling supportable and two confuse drugs with pseudo-pharmaceuticals
most of the time. Two leads adjudicate escalations, sign off and take the QA audits drawn at
the default rates, always answering with the truth. Then clean_labels_refresh, one
noise_check (observed through a wrapper around its label_issues, which it calls unchanged),
fresh analysts on the re-queued items, clean_labels_refresh again. Finally the second looks
(review.services.second_looks, which the hourly task runs after the noise check; measured
here as the "variant" stage): estimates less sure than --variant-threshold go back for one
more blind label. Models trained on the first label of each item, on the clean labels and on
the truth are scored on 8,000 held-out merchants of another world (PR-AUC).

Runs are not bit-for-bit repeatable: the claim picks gold items with ORDER BY RANDOM(),
which no seed reaches; hence several seeds. Per-seed JSON goes to bench/out/ (git-ignored).

`--smoke`: one seed on a world of 600 merchants (a queue of about 150, 6 analysts, 300
held out), its database and JSON in a temporary folder; fails unless every stage labelled
and every model was scored.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module: put the repository root there instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from bench import smoke
from bench.label_noise_measures import label_quality, noise_check_observed, uncertain_requeue
from bench.label_noise_report import derived, table
from bench.label_noise_world import (
    BIASES,
    Analyst,
    Tally,
    analysts_label,
    build_world,
    leads_work,
    snapshot_row,
)

OUT = ROOT / "bench" / "out"
SMOKE = {"seeds": [1], "world": 600, "items": 150, "history": 200, "holdout": 300, "analysts": 6}


def train_and_score(
    rows_by_name: dict[str, list[Any]], holdout: Any, seed: int
) -> dict[str, dict[str, Any]]:
    from supportability.ml.evaluation import evaluate
    from supportability.services import model_train, snapshot_create

    y = holdout.violating
    out = {}
    for name, rows in rows_by_name.items():
        snapshot = snapshot_create(rows=rows, filters={"source": f"bench-{name}"})
        started = time.perf_counter()
        model = model_train(snapshot=snapshot, seed=seed)
        scores = model.predict_proba(holdout.texts, holdout.numeric)
        result = evaluate(y, scores, np.ones(len(y)), n_boot=200, seed=seed)
        out[name] = {
            "rows": len(rows),
            "positives": sum(1 for r in rows if r.decision != "supportable"),
            "pr_auc": result.pr_auc.estimate,
            "pr_auc_low": result.pr_auc.low,
            "pr_auc_high": result.pr_auc.high,
            "seconds": time.perf_counter() - started,
        }
    return out


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from labeling import services as labeling
    from labeling.models import Label
    from review import services as review
    from review.models import ReReview
    from review.services import qa
    from review.services.clean_labels import snapshot_rows
    from supportability.ml.synthetic import generate_merchants, model_inputs
    from supportability.roles import Role
    from supportability.services import user_create

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    labeling.chance.seed(seed)
    qa.chance.seed(seed)
    leads = [user_create(username=f"lead{i}", role=Role.LEAD)[0] for i in (1, 2)]
    accuracies = rng.uniform(0.70, 0.95, args.analysts)
    analysts = [
        Analyst(f"sim{i:02d}", float(acc), BIASES[i] if i < len(BIASES) else None)
        for i, acc in enumerate(accuracies)
    ]
    users = [user_create(username=a.username, role=Role.ANALYST)[0] for a in analysts]
    truth = build_world(seed, args, rng)
    world_seconds = time.perf_counter() - started
    tally = Tally()

    def lead_round() -> None:
        leads_work(leads, truth, tally)

    analysts_label(analysts, users, truth, rng, tally, lead_round, re_review=False)
    review.clean_labels_refresh()
    biases = {a.username: a.bias for a in analysts}
    before = label_quality(truth, biases, rng)
    before["lead"] = tally.lead()
    first: dict[int, str] = {}
    for merchant, decision, slug in (
        Label.objects.filter(item__gold__isnull=True)
        .exclude(decision="unsure")
        .order_by("id")
        .values_list("merchant_id", "decision", "category__slug")
    ):
        first.setdefault(merchant, f"{decision}/{slug}")
    clean_before = [r for r in snapshot_rows() if r.source != "gold"]

    check = noise_check_observed(truth, before, lambda: review.noise_check())
    analysts_label(analysts, users, truth, rng, tally, lead_round, re_review=True)
    review.clean_labels_refresh()
    after = label_quality(truth, biases, rng)
    outcomes = Counter(ReReview.objects.values_list("outcome", flat=True))
    settled = outcomes["confirmed"] + outcomes["corrected"]
    wrong_before = set(before["wrong"])
    requeued = set(check["requeued_merchants"])
    fixed = {m for m in wrong_before if after["clean"].get(m) == truth[m]}
    broken = {
        m for m, v in after["clean"].items() if v != truth[m] and before["clean"].get(m) == truth[m]
    }
    check |= {
        "settled": settled,
        "corrected": outcomes["corrected"],
        "precision": outcomes["corrected"] / settled if settled else None,
        "flag_precision": check["requeued_wrong"] / len(requeued) if requeued else None,
        "recall": check["requeued_wrong"] / len(wrong_before) if wrong_before else None,
        "fixed": len(fixed),
        "fixed_share": len(fixed) / len(wrong_before) if wrong_before else None,
        "broken": len(broken),
        "broken_requeued": len(broken & requeued),
        "broken_by_source_after": dict(Counter(after["sources"][m] for m in broken)),
        "re_review_labels": tally.re_review_labels,
    }

    after["lead"] = tally.lead()
    clean_after = [r for r in snapshot_rows() if r.source != "gold"]

    # VARIANT, not what the services do: every clean label that rests on the Dawid-Skene
    # estimate with confidence below the threshold goes back for one more blind label,
    # through the noise check's own re-queue (a disagreement then goes to a lead).
    variant_started, labels_before = time.perf_counter(), tally.labels
    requeued_variant = uncertain_requeue(args.variant_threshold)
    analysts_label(analysts, users, truth, rng, tally, lead_round, re_review=True)
    review.clean_labels_refresh()
    variant = label_quality(truth, biases, rng)
    variant |= {
        "threshold": args.variant_threshold,
        "requeued": requeued_variant,
        "labels_added": tally.labels - labels_before,
        "lead": tally.lead(),
        "seconds": time.perf_counter() - variant_started,
    }
    clean_variant = [r for r in snapshot_rows() if r.source != "gold"]

    holdout = model_inputs(generate_merchants(args.holdout, seed=seed + 1000))

    models = train_and_score(
        {
            "raw_first_label": [snapshot_row(m, v, "raw") for m, v in sorted(first.items())],
            "clean_before_check": clean_before,
            "clean_after_check": clean_after,
            "clean_variant": clean_variant,
            "truth_same_items": [snapshot_row(m, truth[m], "truth") for m in sorted(first)],
        },
        holdout,
        seed,
    )
    for quality in (before, after, variant):
        del quality["clean"], quality["wrong"], quality["sources"]
    del check["requeued_merchants"]
    return {
        "seed": seed,
        "analysts": [
            {
                "name": a.username,
                "accuracy": round(a.accuracy, 3),
                "bias": a.bias.name if a.bias else "",
            }
            for a in analysts
        ],
        "before_check": before,
        "after_check": after,
        "noise_check": check,
        "variant_uncertain_second_label": variant,
        "models": models,
        "seconds": {
            "world": world_seconds,
            **tally.seconds,
            "total": time.perf_counter() - started,
        },
    }


def result_path(seed: int, args: argparse.Namespace) -> Path:
    return Path(args.out) / f"label_noise_s{seed}_v{args.variant_threshold:g}.json"


def child(seed: int, args: argparse.Namespace) -> None:
    from bench.queue_setup import django_setup

    path = Path(args.db_dir) / f"label_noise_{seed}.sqlite3"
    files = [path, *(path.with_name(f"{path.name}-{end}") for end in ("wal", "shm", "journal"))]
    for file in files:
        file.unlink(missing_ok=True)
    django_setup(f"sqlite:///{path}")
    result = run_seed(seed, args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    result_path(seed, args).write_text(json.dumps(result, indent=1))
    from django.db import connections

    connections.close_all()
    for file in files:
        file.unlink(missing_ok=True)


# --- the parent: one process per seed, then the tables ---------------------------------


def run_seeds(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each seed in a child process of its own; their results as the children wrote them."""
    forwarded = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                 if k not in {"seeds", "child", "from_json", "smoke"}]  # fmt: skip
    results = []
    for seed in args.seeds:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, f"--child={seed}", *forwarded], check=True, cwd=ROOT
        )
        results.append(json.loads(result_path(seed, args).read_text()))
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return results


def smoke_checks(result: dict[str, Any]) -> None:
    for stage in ("before_check", "after_check", "variant_uncertain_second_label"):
        quality = result[stage]
        smoke.check(quality["labels_per_item"] >= 1, f"{stage}: items went unlabelled")
        smoke.check(quality["clean_coverage"] > 0.9, f"{stage}: few clean labels {quality}")
    for name, model in result["models"].items():
        smoke.check(0 < model["pr_auc"] <= 1, f"model {name} scored {model['pr_auc']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--items", type=int, default=3_000, help="expected queue size")
    parser.add_argument("--world", type=int, default=12_000, help="merchants in the world")
    parser.add_argument("--history", type=int, default=1_500, help="seed-model decisions")
    parser.add_argument("--holdout", type=int, default=8_000, help="held-out merchants")
    parser.add_argument("--analysts", type=int, default=12)
    parser.add_argument("--db-dir", default=tempfile.gettempdir())
    parser.add_argument("--out", default=str(OUT), help="per-seed JSON goes here")
    parser.add_argument(
        "--variant-threshold", type=float, default=0.9,
        help="variant: a second label for estimates less sure than this",
    )  # fmt: skip
    parser.add_argument(
        "--from-json", action="store_true",
        help="print the table from an earlier run's JSON in --out, running nothing",
    )  # fmt: skip
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args)
        return
    if args.from_json:
        results = [json.loads(result_path(s, args).read_text()) for s in args.seeds]
        print(table([derived(r) for r in results]))
        return
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="label-noise-smoke-") as scratch:
            smoke.shrink(args, **SMOKE, db_dir=scratch, out=scratch)
            results = run_seeds(args)
        print(table([derived(r) for r in results]))
        for result in results:
            smoke_checks(result)
        return
    print(table([derived(r) for r in run_seeds(args)]))


if __name__ == "__main__":
    main()
