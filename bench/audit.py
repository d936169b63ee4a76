"""The audit trail's cost on the hot path: claim+label throughput of C analysts on
PostgreSQL with each audit writer (bench/audit_writers.py), before and after sealing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/audit.py \\
        --analysts 16 --seconds 15 --pairs 3

Each pair is a fresh database (`<name>_bench`) holding N queued items (bench/queue_setup),
then one run per writer, in an order that rotates from pair to pair so that every writer sees
the same machine: C analyst processes claim and label through the service layer for T
seconds (bench/queue_analysts). In the "sealed" runs the sealer runs beside them in this
process every --seal-every seconds, as the beat would; after each run everything is sealed
and the chain must verify against its checkpoints. Prints, per writer, claim+label cycles/s
(median and range over the pairs), claim and label latencies, the sealer's work, and each
writer's throughput against "plain" (the chain's cost) and "none" (the whole trail's cost).
Nothing is asserted but the chain's integrity: figures go to bench/RESULTS.md.

`--smoke`: 2,000 items, 2 analysts, 1 s runs, one pair, in a database of its own (dropped
afterwards); fails unless every run labelled items and the sealed chain verifies.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # this folder would shadow the standard library's `queue`

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field

from bench import smoke
from bench.queue_analysts import pct, run_analysts
from bench.queue_setup import bench_url, django_setup, load, recreate_database

WRITERS = ("none", "plain", "sealed", "lock")
SMOKE = {"items": 2_000, "analysts": 2, "seconds": 1.0, "pairs": 1}


@dataclass
class Runs:
    cycles: list[float] = field(default_factory=list)  # claim+label cycles/s, one per pair
    claims: list[float] = field(default_factory=list)  # ms, all runs
    labels: list[float] = field(default_factory=list)
    seals: list[float] = field(default_factory=list)  # ms per sealer run
    sealed: int = 0
    verified: list[str] = field(default_factory=list)


def _sealer(seconds: float, every: float, runs: Runs):
    from supportability.audit.sealing import audit_seal

    def during() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            runs.sealed += audit_seal().sealed
            took = time.perf_counter() - started
            runs.seals.append(took * 1000)
            # Never past the run's end: the run's length is the divisor of its throughput.
            time.sleep(max(0.0, min(every - took, deadline - time.monotonic())))

    return during


def _seal_and_verify(runs: Runs, *, record: bool) -> None:
    from supportability.audit.checkpoints import checkpoint_store
    from supportability.audit.sealing import audit_seal
    from supportability.audit.verification import chain_verify
    from supportability.models import AuditEvent

    while audit_seal().sealed:
        pass
    if AuditEvent.objects.filter(seq__isnull=True).exists():
        raise SystemExit("events left unsealed after the run")
    started = time.perf_counter()
    report = chain_verify(checkpoints=checkpoint_store().records())
    took = time.perf_counter() - started
    if report.broken is not None:
        raise SystemExit(f"the chain does not verify: {report.broken}")
    if record:
        runs.verified.append(
            f"{report.events:,} events, {report.checkpoints} checkpoints, {took:.1f} s"
        )


def run_pair(url: str, pair: int, args: argparse.Namespace, results: dict[str, Runs]) -> None:
    from django.conf import settings
    from django.db import connections

    from supportability.audit.sealing import audit_seal

    connections.close_all()  # the database is dropped under this process's connection
    recreate_database(url)
    # A new database, so new checkpoints: the last pair's would not match its chain.
    settings.AUDIT_CHECKPOINT_DIR = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    load(args.items, args.analysts)
    audit_seal()  # the set-up's events: every writer starts from a sealed chain
    order = WRITERS[pair % len(WRITERS) :] + WRITERS[: pair % len(WRITERS)]
    for writer in order:
        runs = results[writer]
        os.environ["BENCH_AUDIT_WRITER"] = writer
        # The former writer inserted events sealed, which the insert guard now refuses.
        _insert_guard(enabled=writer != "lock")
        during = _sealer(args.seconds, args.seal_every, runs) if writer == "sealed" else None
        claims, labels, _, elapsed, _ = run_analysts(url, args.analysts, args.seconds, during)
        runs.cycles.append(len(labels) / elapsed)
        runs.claims += claims
        runs.labels += labels
        # Everything sealed before the next run, whichever writer this was: the "plain" run
        # leaves its events unsealed, and the next "sealed" run must not seal them for it.
        _seal_and_verify(runs, record=writer in {"sealed", "lock"})
        print(f"  pair {pair + 1}, {writer}: {len(labels) / elapsed:.0f} cycles/s", flush=True)


def sealer_alone(events: int, rounds: int) -> list[str]:
    """The sealer's own cost, nothing else running: `events` unsealed events written, then
    sealed in one run, `rounds` times; and the verifier's speed over the whole chain. Under
    16 analysts on 2 cores a throughput figure moves by 10-20 % from run to run; this one
    does not, and it is what the sealer takes from the machine per event."""
    from supportability.audit import audit_event, audit_record_many
    from supportability.audit.checkpoints import checkpoint_store
    from supportability.audit.sealing import audit_seal
    from supportability.audit.verification import verify_against_store
    from supportability.models import Merchant

    merchant = Merchant.objects.order_by("id").first()
    before = {"status": "queued", "label_count": 0}
    after = {"item": 1, "decision": "supportable", "category": "none", "status": "done"}
    lines = []
    audit_seal()
    for _ in range(rounds):
        audit_record_many(
            audit_event(actor=None, verb="bench.probe", target=merchant, before=before,
                        after=after, merchant_id=merchant.pk)
            for _ in range(events)
        )  # fmt: skip
        wall, cpu = time.perf_counter(), time.process_time()
        sealed = audit_seal().sealed
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        lines.append(
            f"sealer alone: {sealed:,} events in {wall * 1000:.0f} ms:"
            f" {wall * 1000 / sealed:.3f} ms per event ({cpu * 1000 / sealed:.3f} ms of it in"
            " the sealer's process, the rest in PostgreSQL and the round trips)"
        )
    started = time.perf_counter()
    report = verify_against_store(checkpoint_store())
    took = time.perf_counter() - started
    lines.append(
        f"verifier: {report.events:,} events and {report.checkpoints} checkpoints in"
        f" {took:.1f} s ({report.events / took:,.0f} events/s), intact: {report.intact}"
    )
    return lines


def _insert_guard(*, enabled: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE supportability_auditevent {'ENABLE' if enabled else 'DISABLE'}"
            " TRIGGER supportability_auditevent_unsealed_insert"
        )


def report(results: dict[str, Runs], args: argparse.Namespace) -> None:
    def median(writer: str) -> float:
        return statistics.median(results[writer].cycles)

    print(
        f"\n{args.analysts} analysts, {args.seconds:g} s per run, {args.pairs} pair(s),"
        f" {args.items:,} queued items; sealer every {args.seal_every:g} s\n"
    )
    print(
        "| writer | cycles/s, median (range) | vs plain | vs none | claim p50/p95/p99 ms"
        " | label p50/p99 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for writer in WRITERS:
        runs = results[writer]
        cycles = runs.cycles
        claims = " / ".join(f"{pct(runs.claims, q):.1f}" for q in (50, 95, 99))
        print(
            f"| {writer} | {median(writer):.0f} ({min(cycles):.0f} to {max(cycles):.0f})"
            f" | {median(writer) / median('plain') - 1:+.1%}"
            f" | {median(writer) / median('none') - 1:+.1%}"
            f" | {claims}"
            f" | {pct(runs.labels, 50):.1f} / {pct(runs.labels, 99):.1f} |"
        )
    sealed = results["sealed"]
    if sealed.seals:
        print(
            f"\nsealer: {len(sealed.seals)} runs, {sealed.sealed:,} events sealed during the"
            f" analysts' runs; per run median {statistics.median(sealed.seals):.1f} ms, max"
            f" {max(sealed.seals):.1f} ms"
        )
    for writer in ("sealed", "lock"):
        for line in results[writer].verified:
            print(f"verified after {writer}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--analysts", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seal-every", type=float, default=5.0, help="the beat's interval")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        smoke.shrink(args, **SMOKE)
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    results = {writer: Runs() for writer in WRITERS}
    if args.smoke:
        with smoke.throwaway_database(base, "audit") as url:
            django_setup(url)
            for pair in range(args.pairs):
                run_pair(url, pair, args, results)
        if not all(runs.cycles and min(runs.cycles) > 0 for runs in results.values()):
            raise SystemExit("a run labelled nothing")
    else:
        url = bench_url(base)
        django_setup(url)
        for pair in range(args.pairs):
            run_pair(url, pair, args, results)
    report(results, args)
    if not args.smoke:
        for line in sealer_alone(events=5_000, rounds=3):
            print(line)


if __name__ == "__main__":
    main()
