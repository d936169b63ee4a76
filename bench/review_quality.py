"""The lead's periodic work at scale: the agreement and analyst-quality computation and
the QA draw over a large label history, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/supportability \\
        .venv/bin/python bench/review_quality.py --items 1000000

Loads N done items (10 % labelled twice) with their leases and labels by COPY, 20
simulated analysts of accuracies 0.70-0.95, then times quality_compute() and one
qa_audits_draw() batch, and prints the peak resident memory of the process.

`--smoke`: 300 items and 4 analysts in a database of its own (dropped afterwards); the run
fails unless the computation saw the double labels, analyst pairs, and drew audits.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import smoke
from bench.queue_setup import MERCHANT_COPY, copy_labels, django_setup, recreate_database

ANSWERS = ["supportable/none"] * 17 + [
    "restricted/gambling",
    "prohibited/drugs",
    "prohibited/weapons",
]
SMOKE = {"items": 300, "analysts": 4}


# refund, dispute and card-not-present rates, account age, volume, created, updated.
BLANK_MERCHANT = (0, 0, 0, 1, 0, "now", "now")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(n: int, analysts: int, rng: random.Random) -> int:
    from django.core.management import call_command
    from django.db import connection

    from labeling.services import queue_default
    from supportability.models import PolicyCategory, PolicyVersion
    from supportability.roles import Role
    from supportability.services import user_create

    call_command("migrate", verbosity=0)
    queue = queue_default()
    users = [
        user_create(username=f"sim{a}", role=Role.ANALYST, password="bench-pw")[0].pk
        for a in range(analysts)
    ]
    accuracy = [0.70 + 0.25 * a / max(1, analysts - 1) for a in range(analysts)]
    slugs = {c.slug: c.pk for c in PolicyCategory.objects.all()}
    policy = PolicyVersion.objects.get(is_current=True).pk
    doubles = [rng.random() < 0.10 for _ in range(n)]
    with connection.cursor() as cursor:
        with cursor.copy(MERCHANT_COPY) as copy:
            for i in range(n):
                copy.write_row(
                    (f"Q{i:08d}", f"Merchant {i}", "US", "5999", "", "", "", *BLANK_MERCHANT)
                )
        cursor.execute("SELECT min(id) FROM supportability_merchant")
        first_merchant = cursor.fetchone()[0]
        with cursor.copy(
            "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
            " propensity, required_labels, label_count, score_hidden, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(n):
                k = 2 if doubles[i] else 1
                copy.write_row(
                    (first_merchant + i, queue.pk, "flagged", "done", 0.5, 1.0, k, k, False,
                     "now", "now")
                )  # fmt: skip
        cursor.execute("SELECT min(id) FROM labeling_reviewitem")
        first_item = cursor.fetchone()[0]
        # Who labelled what, and what they said: the truth with their accuracy.
        rows = []
        for i in range(n):
            truth = rng.choice(ANSWERS)
            for analyst in rng.sample(range(analysts), 2 if doubles[i] else 1):
                said = truth if rng.random() < accuracy[analyst] else rng.choice(ANSWERS)
                rows.append((first_item + i, first_merchant + i, users[analyst], said))
        copy_labels(cursor, rows, categories=slugs, policy_id=policy, rng=rng)
        cursor.execute("ANALYZE")
    return len(rows)


def load_only(url: str, args: argparse.Namespace) -> None:
    recreate_database(url)
    django_setup(url)
    started = time.perf_counter()
    labels = load(args.items, args.analysts, random.Random(args.items))
    took = time.perf_counter() - started
    print(f"loaded {args.items:,} items and {labels:,} labels in {took:.1f} s")


def measure(url: str, args: argparse.Namespace) -> dict[str, int]:
    """Load the database at `url` in a child process (so that this one's peak memory is the
    computation's alone), then time the computation and the QA draw."""
    subprocess.run(
        [sys.executable, __file__, f"--load-only={url}", f"--items={args.items}",
         f"--analysts={args.analysts}"],
        check=True,
    )  # fmt: skip
    django_setup(url)
    from review.models import AgreementStat
    from review.services import qa_audits_draw, quality_compute

    baseline = rss_mb()
    started = time.perf_counter()
    run = quality_compute()
    seconds = time.perf_counter() - started
    pairs = AgreementStat.objects.filter(run=run, scope="pair").count()
    print(
        f"quality_compute: {seconds:.1f} s over {run.label_count:,} labels, {pairs} analyst"
        f" pairs; peak RSS {rss_mb():.0f} MB (Django loaded: {baseline:.0f} MB)"
    )
    started = time.perf_counter()
    drawn = qa_audits_draw()
    print(
        f"qa_audits_draw, one batch of 5,000 labels: {time.perf_counter() - started:.2f} s,"
        f" {drawn} drawn"
    )
    return {"labels": run.label_count, "pairs": pairs, "drawn": drawn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--analysts", type=int, default=20)
    parser.add_argument("--load-only", metavar="URL", help=argparse.SUPPRESS)
    smoke.add_flag(parser)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://... (the benchmark recreates <name>_quality_bench)")
    if args.load_only:  # the parent's child, told which database to recreate and load
        load_only(args.load_only, args)
        return
    if args.smoke:
        smoke.shrink(args, **SMOKE)
        with smoke.throwaway_database(base, "quality") as url:
            seen = measure(url, args)
        smoke.check(seen["labels"] > args.items, f"{seen['labels']} labels on {args.items} items")
        smoke.check(seen["pairs"] > 0, "no analyst pair")
        smoke.check(seen["drawn"] > 0, "no QA audit drawn")
        return
    measure(base.split("?")[0].removesuffix("_quality_bench") + "_quality_bench", args)


if __name__ == "__main__":
    main()
