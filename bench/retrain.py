"""Retraining at scale: the chain's steps on 100,000 labelled merchants, and the rescoring
of every merchant by real Celery workers, on PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/supportability \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/retrain.py --labelled 100000 --merchants 1000000

A child process recreates ``<name>_retrain_bench`` and loads, by COPY, the synthetic
world's merchants (``--merchants`` to score plus the labelled ones): a champion trained on
historical decisions (the seed snapshot), the labelled merchants drawn by Poisson sampling
on the champion's scores (π = review.demo.seeding.inclusion_probability) and labelled by 20
simulated analysts of accuracy 0.80-0.97 (10 % of them twice), and an open queue drawn the
same way. Then, once per worker count in ``--workers``, one retraining: snapshot (clean
labels refreshed and frozen), train + calibrate, evaluate and decide run in this process
(the chain's outbox messages, run inline as ``manage.py retrain`` runs them); the
rescoring's ``rescore_chunk`` messages are then published to N real ``celery -A
supportability worker --concurrency 1`` processes, started and stopped here, and the last
chunk hands over to ``retrain_promote`` and ``retrain_reprioritise``. Prints seconds per stage,
the CPU time spent during the rescoring by the workers, by their PostgreSQL backends and by
everything else on the machine (on a shared machine, other people's work), and peak
resident memory (this process; each worker's pool process). The labelled 10,000 historical
decisions (``--seed-decisions``) count towards ``--labelled``; ``--skip-load`` reuses the
loaded database.

``--smoke``: 2,600 merchants (300 historical decisions, 300 reviewed by 4 analysts) and one
worker, in a database of its own (dropped afterwards) and on a Celery queue of its own; the
run fails unless the retraining succeeded and rescored every merchant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module: put the repository root there instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from bench import smoke
from bench.queue_setup import django_setup, recreate_database
from bench.retrain_workers import CpuShare, Workers
from bench.retrain_world import ANALYSTS, SEED_DECISIONS, load

DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
# A world of 2,600 merchants: 300 historical decisions, 300 reviewed (π averages about 0.17
# on the champion's scores: 2,300 candidates draw about 390), and up to 50 queued.
SMOKE = {
    "labelled": 600,
    "merchants": 2_000,
    "queued": 50,
    "workers": [1],
    "seed_decisions": 300,
    "analysts": 4,
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_database(base: str) -> str:
    return base.split("?")[0].removesuffix("_retrain_bench") + "_retrain_bench"


# --- the workers ------------------------------------------------------------------------


def _timed(fn: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    fn(**kwargs)
    return time.perf_counter() - started


def retrain(workers: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    from django.utils import timezone

    from review.services import candidate_promote, retrain_start
    from review.services import retraining as chain
    from supportability.celery import app
    from supportability.models import Merchant, OutboxMessage, Score, TrainingRun
    from supportability.outbox import outbox_drain, outbox_relay

    def next_message() -> None:  # the run's next step, in this process
        outbox_drain(run_id=run.pk, limit=1, inline=True)

    seconds: dict[str, float] = {}
    run = retrain_start(actor=None, enqueue=False)
    try:
        seconds["snapshot"] = _timed(next_message)
        seconds["train + calibrate"] = _timed(next_message)
        seconds["evaluate + decide"] = _timed(next_message)
        seconds["evaluate + decide"] += _timed(next_message)
    except Exception as exc:  # end the run, or it holds the lock for the next one
        chain.retrain_failed(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
        raise
    run.refresh_from_db()
    train_peak = rss_mb()
    if run.model_version is None or (
        run.step != "rescore" and run.status != TrainingRun.Status.HELD
    ):
        raise RuntimeError(f"the run stopped at {run.step}: {run.status} {run.message}")
    candidate = run.model_version

    app.control.purge()
    try:
        pool = Workers(workers, env, log_dir)
    except OSError as exc:
        chain.retrain_failed(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
        raise
    try:
        pool.wait_ready()
        cpu = CpuShare(pool)
        started = time.perf_counter()
        gate = run.gate
        if run.status == TrainingRun.Status.HELD:  # the gate held it: a lead promotes it
            run = candidate_promote(actor=None, model_version_id=candidate.pk)
        else:  # its rescoring chunks are written: hand them to the workers
            OutboxMessage.objects.filter(run=run, done_at__isnull=True).update(
                available_at=timezone.now()
            )
        rescored_at = None
        while True:
            outbox_relay()  # this process plays the relay (the workers relay their own)
            step, active = TrainingRun.objects.filter(pk=run.pk).values_list("step", "holds_lock")[
                0
            ]
            now = time.perf_counter()
            if rescored_at is None and step in ("promote", "reprioritise", "done"):
                rescored_at = now
                cpu.stop()
            if rescored_at is None:
                cpu.poll()
            if not active:
                break
            if now - started > 3_600:
                raise RuntimeError("the rescoring took over an hour")
            time.sleep(0.2)
        finished = time.perf_counter()
        worker_peaks = pool.peak_mb()
    except BaseException as exc:  # interrupted or failed: end the run, it holds the lock
        chain.retrain_failed(run_id=run.pk, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        pool.stop()
    run.refresh_from_db()
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise RuntimeError(f"the run ended {run.status}: {run.message}")
    rescored_at = rescored_at or finished
    seconds["rescore"] = rescored_at - started
    seconds["promote + re-prioritise"] = finished - rescored_at
    candidate.refresh_from_db()
    return {
        "workers": workers,
        "seconds": seconds,
        "scored": Score.objects.filter(model_version=candidate).count(),
        "merchants": Merchant.objects.count(),
        "train_rows": candidate.metrics["n_train"],
        "holdout_rows": candidate.metrics.get("holdout_rows"),
        "C": candidate.metrics.get("C"),
        "cv_average_precision_by_C": candidate.metrics.get("cv_average_precision_by_C"),
        "calibration": candidate.metrics.get("calibration"),
        "gate": gate,
        "peak_rss_mb": round(train_peak),
        "worker_peak_rss_mb": [round(p) for p in worker_peaks],
        "rescore_cpu_seconds": cpu.shares(),
    }


def report(world: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    print(f"world: {json.dumps(world)}")
    stages = list(runs[0]["seconds"])
    header = ["stage"] + [f"{r['workers']} worker{'s' * (r['workers'] > 1)} (s)" for r in runs]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(f"{r['seconds'][stage]:.1f}" for r in runs) + " |")
    for label, key in (("merchants rescored", "scored"), ("training rows", "train_rows")):
        print(f"| {label} | " + " | ".join(f"{r[key]:,}" for r in runs) + " |")
    rates = [r["scored"] / max(r["seconds"]["rescore"], 1e-9) for r in runs]
    print("| rescoring, merchants/s | " + " | ".join(f"{x:,.0f}" for x in rates) + " |")
    per_million = [1_000_000 / x for x in rates]
    print("| rescore 1M at that rate (s) | " + " | ".join(f"{x:.1f}" for x in per_million) + " |")
    for share in ("workers", "postgres", "others"):
        print(
            f"| CPU s during the rescoring: {share} | "
            + " | ".join(f"{r['rescore_cpu_seconds'][share]:.0f}" for r in runs)
            + " |"
        )
    print(
        "| peak RSS, this process (MB) | " + " | ".join(str(r["peak_rss_mb"]) for r in runs) + " |"
    )
    print(
        "| peak RSS, each worker (MB) | "
        + " | ".join(" / ".join(map(str, r["worker_peak_rss_mb"])) for r in runs)
        + " |"
    )
    for r in runs:
        print(
            f"{r['workers']} worker(s): C={r['C']} {r['cv_average_precision_by_C']},"
            f" {r['calibration']}, holdout rows {r['holdout_rows']}, gate {r['gate']}"
        )


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, load average {load}, Python {sys.version.split()[0]},"
        f" PostgreSQL {version} (autovacuum {autovacuum})"
    )


def load_world(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load in a child process, so that this one's peak memory is the chain's alone."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, f"--load-only={url}", f"--labelled={args.labelled}",
         f"--merchants={args.merchants}", f"--queued={args.queued}",
         f"--seed-decisions={args.seed_decisions}", f"--analysts={args.analysts}"],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    world = json.loads(out.stdout.strip().splitlines()[-1])
    world["load_seconds"] = round(time.perf_counter() - started, 1)
    print(f"loaded: {json.dumps(world)}", flush=True)
    return world


def bench(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load the world into the database at `url` (unless --skip-load), then one retraining
    per worker count."""
    world = {"skipped": True} if args.skip_load else load_world(url, args)
    django_setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a reused database may predate a migration
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    print(f"machine: {machine()}", flush=True)
    log_dir = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    print(f"worker logs: {log_dir}", flush=True)
    runs = []
    try:
        for n in args.workers:
            runs.append(retrain(n, env, log_dir))
            print(json.dumps(runs[-1]), flush=True)
    except Exception:
        if args.smoke:  # CI shows this output only: the workers' side goes with it
            _print_logs(log_dir)
        raise
    finally:
        if args.smoke:
            shutil.rmtree(log_dir, ignore_errors=True)
    return world, runs


def _print_logs(log_dir: Path) -> None:
    for log in sorted(log_dir.glob("*.log")):
        print(f"--- {log}\n{log.read_text()}", file=sys.stderr)


@contextlib.contextmanager
def smoke_celery_queue() -> Iterator[None]:
    """The smoke run's own Celery queue: on a Redis that others use (CI's worker tests, a
    second run), its workers take only its tasks and its purge empties only its queue.
    Deleted afterwards, bindings and all."""
    queue = f"retrain-smoke-{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.smoke_celery_settings"
    os.environ["BENCH_CELERY_QUEUE"] = queue
    try:
        yield
    finally:
        from supportability.celery import app

        with app.connection_for_write() as conn:
            bound = app.amqp.queues[queue](conn.default_channel)
            bound.declare()  # the channel deletes only the bindings it knows of
            bound.delete()


def smoke_checks(world: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    for run in runs:
        smoke.check(
            run["scored"] == run["merchants"],
            f"{run['scored']} of {run['merchants']} merchants rescored",
        )
        smoke.check(run["train_rows"] > 0, "the candidate trained on no rows")
    smoke.check(world["labels"] > world["reviewed"] > 0, f"the world loaded no labels: {world}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=1_000_000, help="unlabelled, to score")
    parser.add_argument("--queued", type=int, default=50_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed-decisions", type=int, default=SEED_DECISIONS)
    parser.add_argument("--analysts", type=int, default=ANALYSTS)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    parser.add_argument("--load-only", metavar="URL", help=argparse.SUPPRESS)
    smoke.add_flag(parser)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://... (the benchmark recreates <name>_retrain_bench)")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    os.environ["CELERY_BROKER_URL"] = broker if broker.startswith("redis") else DEFAULT_BROKER
    if args.load_only:  # the parent's child, told which database to recreate and load
        recreate_database(args.load_only)
        django_setup(args.load_only)
        sizes = ("labelled", "merchants", "queued", "seed_decisions", "analysts")
        print(json.dumps(load(**{k: getattr(args, k) for k in sizes})))
        return
    if args.smoke:
        smoke.shrink(args, **SMOKE, skip_load=False)
        with smoke_celery_queue(), smoke.throwaway_database(base, "retrain") as url:
            world, runs = bench(url, args)
        report(world, runs)
        smoke_checks(world, runs)
        return
    report(*bench(bench_database(base), args))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
