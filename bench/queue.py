"""The review queue under load, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/queue.py \
        --sizes 10000 1000000 --analysts 16 --seconds 20

For each size it builds a fresh database (`<name>_bench`, dropped and re-created), loads N
queued items with COPY, then:
  1. service layer: C analyst processes claim and label for T seconds;
  2. HTTP: gunicorn serves the API, C client threads claim and label for T seconds;
  3. re-prioritise: a new model's scores (COPYed in) re-rank every queued item in bulk
     while C analyst processes keep claiming;
and prints one table (a column per size): items queued, claims/s, claim p50/p95/p99,
label p99, duplicates, re-prioritise seconds and claim p99 during it, server peak RSS, and
the buffers the claim query reads (EXPLAIN ANALYZE, BUFFERS). Nothing here is asserted:
figures go to bench/RESULTS.md.

`--smoke`: 2,000 items, 2 analysts, one web worker, 1 s phases, re-prioritised in batches
of 500, in a database of its own (dropped afterwards); the run fails unless every phase
labelled items with no duplicate and no HTTP error.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file would shadow the
# standard library's `queue` (which multiprocessing imports): put the project root there.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import os
import signal
import time
from dataclasses import dataclass, field

from bench import smoke
from bench.queue_analysts import duplicates, explain_claim, pct, run_analysts
from bench.queue_http import free_port, run_http, server_peak_rss_mb, start_server
from bench.queue_setup import bench_url, django_setup, load, recreate_database

SMOKE = {
    "sizes": [2_000],
    "analysts": 2,
    "seconds": 1.0,
    "reprioritise_seconds": 1.0,
    "web_workers": 1,
    "web_threads": 2,
    # The 1M run re-prioritises in 50 batches, so claims find unlocked items meanwhile; one
    # batch of the service's default size would lock the whole small queue and end the
    # analysts' claims (SKIP LOCKED finds nothing).
    "reprioritise_batch": 500,
}


@dataclass
class Checked:
    """What a smoke run checks: labels in every phase, no HTTP error, no duplicate."""

    labelled: dict[str, int] = field(default_factory=dict)
    http_errors: int = 0
    duplicates: int = 0

    def verify(self) -> None:
        for phase, labels in self.labelled.items():
            smoke.check(labels > 0, f"no item labelled in the {phase} phase")
        smoke.check(self.http_errors == 0, f"{self.http_errors} HTTP errors")
        smoke.check(self.duplicates == 0, f"{self.duplicates} duplicates")


def bench_size(url: str, n: int, args: argparse.Namespace) -> tuple[dict[str, str], Checked]:
    """One size on the database at `url` (dropped and re-created first): the table's column,
    and what a smoke run checks."""
    recreate_database(url)
    django_setup(url)
    from django.db import connection

    print(f"# {n:,} items: loading", file=sys.stderr, flush=True)
    setup = load(n, args.analysts)
    connection.close()

    print(f"# {n:,} items: service layer", file=sys.stderr, flush=True)
    claims, labels, queries, elapsed, _ = run_analysts(url, args.analysts, args.seconds)
    checked = Checked(labelled={"service": len(labels)})
    row = {
        "items queued": f"{n:,}",
        "load (COPY) s": f"{setup['load_seconds']:.1f}",
        "service: claim+label cycles/s": f"{len(labels) / elapsed:.0f}",
        "claim query (lock the next item) p50 / p95 / p99 ms": _triple(queries),
        "service: claim p50 / p95 / p99 ms": _triple(claims),
        "service: label p99 ms": f"{pct(labels, 99):.1f}",
    }

    print(f"# {n:,} items: HTTP", file=sys.stderr, flush=True)
    server = start_server(url, args.port, args.web_workers, args.web_threads)
    try:
        h_claims, h_labels, h_elapsed, errors = run_http(args.port, setup["tokens"], args.seconds)
        rss = server_peak_rss_mb(server)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    checked.labelled["HTTP"] = len(h_labels)
    checked.http_errors = errors
    row.update(
        {
            "HTTP: claim+label cycles/s": f"{len(h_labels) / h_elapsed:.0f}",
            "HTTP: claim p50 / p95 / p99 ms": _triple(h_claims),
            "HTTP: label p99 ms": f"{pct(h_labels, 99):.1f}",
            "HTTP: errors": str(errors),
            "server peak RSS (largest worker) MB": f"{rss:.0f}",
        }
    )

    print(f"# {n:,} items: re-prioritise while claiming", file=sys.stderr, flush=True)

    def reprioritise() -> float:
        from labeling.services import queue_reprioritise
        from supportability.models import ModelVersion

        model = ModelVersion.objects.get(pk=setup["model_id"])
        batch = {"batch_size": args.reprioritise_batch} if args.reprioritise_batch else {}
        t0 = time.perf_counter()
        queue_reprioritise(model_version=model, **batch)
        seconds = time.perf_counter() - t0
        connection.close()
        return seconds

    during_claims, during_labels, during_queries, _, seconds = run_analysts(
        url, args.analysts, args.reprioritise_seconds, reprioritise
    )
    checked.labelled["re-prioritise"] = len(during_labels)
    checked.duplicates = duplicates()
    row.update(
        {
            "re-prioritise all s": f"{seconds:.1f}",
            "claim p99 during it ms (service / query)": (
                f"{pct(during_claims, 99):.1f} / {pct(during_queries, 99):.1f}"
            ),
            "duplicates": str(checked.duplicates),
            "claim query buffers (EXPLAIN)": explain_claim(),
        }
    )
    connection.close()
    return row, checked


def _triple(values: list[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 95):.1f} / {pct(values, 99):.1f}"


def print_table(rows: list[dict[str, str]], args: argparse.Namespace) -> None:
    print(f"\n{args.analysts} analysts, {args.seconds:g} s per phase, {os.cpu_count()} cores\n")
    keys = list(rows[0])
    print("| measure | " + " | ".join(r["items queued"] for r in rows) + " |")
    print("| --- | " + " | ".join("---" for _ in rows) + " |")
    for key in keys[1:]:
        print(f"| {key} | " + " | ".join(r[key] for r in rows) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--analysts", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--reprioritise-seconds", type=float, default=15)
    parser.add_argument("--reprioritise-batch", type=int, help="items a batch (the service's)")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=4)
    smoke.add_flag(parser)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if args.smoke:
        smoke.shrink(args, **SMOKE, port=free_port())
        with smoke.throwaway_database(base_url, "queue") as url:
            results = [bench_size(url, n, args) for n in args.sizes]
        print_table([row for row, _ in results], args)
        for _, checked in results:
            checked.verify()
        return
    if not base_url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL (a <name>_bench database is made there)")
    results = [bench_size(bench_url(base_url), n, args) for n in args.sizes]
    print_table([row for row, _ in results], args)


if __name__ == "__main__":
    main()
