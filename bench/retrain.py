"""Retraining at scale: the chain's steps on 100,000 labelled merchants, and the rescoring
of every merchant by real Celery workers, on PostgreSQL and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/supportability \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/retrain.py --labelled 100000 --merchants 1000000

A child process recreates ``<name>_retrain_bench`` and loads, by COPY, the synthetic
world's merchants (``--merchants`` to score plus the labelled ones): a champion trained on
historical decisions (the seed snapshot), the labelled merchants drawn by Poisson sampling
on the champion's scores (π = review.seeding.inclusion_probability) and labelled by 20
simulated analysts of accuracy 0.80-0.97 (10 % of them twice), and an open queue drawn the
same way. Then, once per worker count in ``--workers``, one retraining: snapshot (clean
labels refreshed and frozen), train + calibrate, evaluate and decide run in this process
(the chain's services, as the tasks call them); the rescoring fans out through
``review.tasks.retrain_rescore`` to ``rescore_chunk`` tasks on N real ``celery -A
supportability worker --concurrency 1`` processes, started and stopped here, and the last
chunk's ``retrain_promote`` promotes and re-prioritises the queue. Prints seconds per stage,
the CPU time spent during the rescoring by the workers, by their PostgreSQL backends and by
everything else on the machine (on a shared machine, other people's work), and peak
resident memory (this process; each worker's pool process). The labelled 10,000 historical
decisions count towards ``--labelled``; ``--skip-load`` reuses the loaded database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module: put the repository root there instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from bench.queue_setup import copy_labels, django_setup, recreate_database

SEED = 7
SEED_DECISIONS = 10_000  # historical decisions the champion learnt from (a seed snapshot)
CHUNK = 50_000  # merchants generated, loaded and scored at a time
ANALYSTS = 20
DOUBLE_SHARE = 0.10
# When an analyst errs on a violator, how often the error is "supportable" (a miss) rather
# than another category: the one-sided noise the design notes warn about.
MISS_SHARE = 0.7
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_database(base: str) -> str:
    return base.split("?")[0].removesuffix("_retrain_bench") + "_retrain_bench"


# --- the world --------------------------------------------------------------------------


def _merchant_row(pk: int, m: Any) -> tuple[Any, ...]:
    return (
        pk, m.external_id, m.name, m.country, m.mcc, m.url, m.description, m.website_text,
        m.refund_rate, m.dispute_rate, m.cnp_share, m.account_age_days, m.monthly_volume,
        "now", "now",
    )  # fmt: skip


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, CHUNK):
        yield start, min(start + CHUNK, total)


def _said(truth: str, accuracy: float, rng: random.Random) -> str:
    """What an analyst of this accuracy answers for a merchant whose truth is `truth`."""
    from supportability.ml.taxonomy import VIOLATION_CATEGORIES, decision_for_category

    if rng.random() < accuracy:
        return truth
    decision, slug = truth.split("/")
    if decision != "supportable" and rng.random() < MISS_SHARE:
        return "supportable/none"
    other = rng.choice([c for c in VIOLATION_CATEGORIES if c != slug])
    return f"{decision_for_category(other)}/{other}"


@dataclass
class Drawn:
    """What loading the merchants drew: the champion, and by Poisson sampling on its scores
    the merchants reviewed (id, truth, π, score) and those waiting in the queue (id, π)."""

    champion: Any = None
    reviewed: list[tuple[int, str, float, float]] = field(default_factory=list)
    queued: list[tuple[int, float]] = field(default_factory=list)
    generate_seconds: float = 0.0


def load(*, labelled: int, merchants: int, queued: int) -> dict[str, Any]:
    """The world, by COPY (see the module's docstring). Merchant i has id i + 1."""
    from django.core.management import call_command
    from django.db import connection

    from labeling.services import queue_default

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    queue = queue_default()
    rng = random.Random(SEED)
    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        drawn = _load_merchants(
            cursor, total=merchants + labelled, reviewed=labelled - SEED_DECISIONS, queued=queued,
            rng=rng,
        )  # fmt: skip
        timings["merchants"] = time.perf_counter() - started
        t = time.perf_counter()
        labels = _load_labels(cursor, drawn.reviewed, queue.pk, rng)
        timings["labels"] = time.perf_counter() - t
        t = time.perf_counter()
        _load_queue(cursor, drawn, queue.pk, rng)
        cursor.execute("ANALYZE")
        timings["queue"] = time.perf_counter() - t
    timings["generate (part of merchants)"] = drawn.generate_seconds
    return {
        "merchants": merchants + labelled,
        "seed_decisions": SEED_DECISIONS,
        "reviewed": len(drawn.reviewed),
        "labels": labels,
        "queued": len(drawn.queued),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def _load_merchants(
    cursor: Any, *, total: int, reviewed: int, queued: int, rng: random.Random
) -> Drawn:
    """Generate and COPY the merchants chunk by chunk; the first chunk's historical
    decisions train the champion, whose scores then draw the reviewed and the queued."""
    from review.seeding import inclusion_probability
    from supportability.ml.model import load_model
    from supportability.ml.synthetic import generate_merchants, model_inputs

    drawn = Drawn()
    trained = None
    for number, (start, stop) in enumerate(_chunks(total)):
        t = time.perf_counter()
        # One seed per chunk: external ids M000123-S7003 never collide across chunks.
        world = generate_merchants(stop - start, seed=SEED * 1_000 + number)
        drawn.generate_seconds += time.perf_counter() - t
        with cursor.copy(
            "COPY supportability_merchant (id, external_id, name, country, mcc, url,"
            " description, website_text, refund_rate, dispute_rate, cnp_share,"
            " account_age_days, monthly_volume, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, m in enumerate(world, start=start):
                copy.write_row(_merchant_row(i + 1, m))
        truths = [f"{m.true_decision}/{m.true_category}" for m in world]
        offset = 0
        if trained is None:
            drawn.champion = _champion(truths[:SEED_DECISIONS], rng)
            artifact = drawn.champion.artifact
            trained = load_model(bytes(artifact), expected_sha256=drawn.champion.artifact_sha256)
            offset = SEED_DECISIONS
        if len(drawn.reviewed) >= reviewed and len(drawn.queued) >= queued:
            continue
        # Poisson sampling on the champion's scores: first the reviewed, then the queue.
        inputs = model_inputs(world[offset:])
        scores = trained.predict_proba(inputs.texts, inputs.numeric).tolist()
        for j, score in enumerate(scores, start=offset):
            pi = inclusion_probability(score)
            if rng.random() >= pi:
                continue
            if len(drawn.reviewed) < reviewed:
                drawn.reviewed.append((start + j + 1, truths[j], pi, score))
            elif len(drawn.queued) < queued:
                drawn.queued.append((start + j + 1, pi))
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('supportability_merchant', 'id'), %s)", [total]
    )
    if len(drawn.reviewed) < reviewed:
        raise SystemExit(f"only {len(drawn.reviewed)} merchants drawn for review: add merchants")
    return drawn


def _champion(truths: list[str], rng: random.Random) -> Any:
    """The champion, trained and promoted on historical decisions about merchants 1..N: the
    truth, with a few violators missed (a seed snapshot, as the demo has)."""
    from supportability.services import (
        SnapshotRow,
        model_promote,
        model_train,
        model_version_register,
        snapshot_create,
    )

    rows = []
    for i, truth in enumerate(truths):
        decision, slug = truth.split("/")
        if decision != "supportable" and rng.random() < 0.03:
            decision, slug = "supportable", "none"
        rows.append(SnapshotRow(i + 1, decision, slug, "seed"))
    snapshot = snapshot_create(rows=rows, filters={"source": "seed", "seed": SEED})
    champion = model_version_register(
        name="supportability-demo",
        version="1",
        trained=model_train(snapshot=snapshot, seed=SEED),
        snapshot=snapshot,
    )
    return model_promote(model_version=champion)


def _load_labels(
    cursor: Any, reviewed: list[tuple[int, str, float, float]], queue: int, rng: random.Random
) -> int:
    """The reviewed merchants' done items, leases and labels (10 % labelled twice) by
    simulated analysts of accuracy 0.80-0.97. Returns the number of labels."""
    from supportability.models import PolicyCategory, PolicyVersion
    from supportability.roles import Role
    from supportability.services import user_create

    slugs = {c.slug: c.pk for c in PolicyCategory.objects.all()}
    policy = PolicyVersion.objects.get(is_current=True).pk
    analysts = [
        user_create(username=f"sim{a}", role=Role.ANALYST, password="bench-pw")[0].pk
        for a in range(ANALYSTS)
    ]
    accuracy = [0.80 + 0.17 * a / (ANALYSTS - 1) for a in range(ANALYSTS)]
    doubles = [rng.random() < DOUBLE_SHARE for _ in reviewed]
    with cursor.copy(
        "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
        " propensity, required_labels, label_count, created_at, updated_at) FROM STDIN"
    ) as copy:
        for (merchant, _, pi, score), double in zip(reviewed, doubles, strict=True):
            k = 2 if double else 1
            reason = "flagged" if score >= 0.5 else "audit_sample"
            copy.write_row((merchant, queue, reason, "done", score, pi, k, k, "now", "now"))
    cursor.execute("SELECT min(id) FROM labeling_reviewitem")
    first_item = cursor.fetchone()[0]
    labels = []
    for n, ((merchant, truth, _, _), double) in enumerate(zip(reviewed, doubles, strict=True)):
        for analyst in rng.sample(range(ANALYSTS), 2 if double else 1):
            said = _said(truth, accuracy[analyst], rng)
            labels.append((first_item + n, merchant, analysts[analyst], said))
    copy_labels(cursor, labels, categories=slugs, policy_id=policy, rng=rng)
    return len(labels)


def _load_queue(cursor: Any, drawn: Drawn, queue: int, rng: random.Random) -> None:
    """The open queue: the champion's scores of its merchants (with explanations, by the
    app's own scoring) and their queued items."""
    from supportability.models import Merchant, Score
    from supportability.services import merchants_score

    ids = [merchant for merchant, _ in drawn.queued]
    merchants_score(model_version=drawn.champion, merchants=Merchant.objects.filter(id__in=ids))
    scores = {
        merchant: (pk, probability)
        for merchant, pk, probability in Score.objects.filter(
            model_version=drawn.champion
        ).values_list("merchant_id", "id", "probability")
    }
    with cursor.copy(
        "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
        " propensity, required_labels, label_count, score_id, created_at, updated_at)"
        " FROM STDIN"
    ) as copy:
        for merchant, pi in drawn.queued:
            score, p = scores[merchant]
            reason = "flagged" if p >= 0.5 else "audit_sample"
            k = 2 if rng.random() < DOUBLE_SHARE else 1
            copy.write_row(
                (merchant, queue, reason, "queued", p, pi, k, 0, score, "now", "now")
            )  # fmt: skip


# --- the workers ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _peak_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, every process) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def _database_backends() -> list[int]:
    """The PostgreSQL server processes connected to the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [row[0] for row in cursor.fetchall()]


class Workers:
    """N `celery -A supportability worker --concurrency 1` processes on the bench database."""

    def __init__(self, n: int, env: dict[str, str], log_dir: Path) -> None:
        self.processes = []
        for i in range(n):
            log = (log_dir / f"worker{i}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "supportability", "worker",
                     "--concurrency", "1", "--pool", "prefork", "-n", f"retrain-bench-{i}@%h",
                     "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> None:
        from supportability.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError("a worker exited while starting: see its log")
            replies = app.control.ping(timeout=1.0) or []
            if sum("retrain-bench-" in name for reply in replies for name in reply) >= len(
                self.processes
            ):
                return
        raise RuntimeError("the workers did not answer a ping in time")

    def cpu_seconds(self) -> float:
        return sum(
            _cpu_seconds(p.pid) + sum(_cpu_seconds(c) for c in _children(p.pid))
            for p in self.processes
        )

    def peak_mb(self) -> list[float]:
        """Each worker's largest process (its pool process, where the tasks run)."""
        return [
            max([_peak_mb(p.pid)] + [_peak_mb(c) for c in _children(p.pid)]) for p in self.processes
        ]

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # warm shutdown
        for p in self.processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# --- one retraining ---------------------------------------------------------------------


def _timed(fn: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    fn(**kwargs)
    return time.perf_counter() - started


def retrain(workers: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    from review.services import candidate_promote
    from review.services import retraining as chain
    from review.tasks import retrain_rescore
    from supportability.celery import app
    from supportability.models import Merchant, Score, TrainingRun

    seconds: dict[str, float] = {}
    run = chain.retrain_start(actor=None, enqueue=False)
    try:
        seconds["snapshot"] = _timed(chain.retrain_snapshot, run_id=run.pk)
        seconds["train + calibrate"] = _timed(chain.retrain_train, run_id=run.pk)
        seconds["evaluate + decide"] = _timed(chain.retrain_evaluate, run_id=run.pk)
        seconds["evaluate + decide"] += _timed(chain.retrain_decide, run_id=run.pk)
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
        cpu = _CpuShare(pool)
        started = time.perf_counter()
        if run.status == TrainingRun.Status.HELD:  # the gate held it: a lead promotes it
            gate = run.gate
            run = candidate_promote(actor=None, model_version_id=candidate.pk)
        else:
            gate = run.gate
            retrain_rescore.delay(run.pk)
        rescored_at = None
        while True:
            step, active = TrainingRun.objects.filter(pk=run.pk).values_list("step", "holds_lock")[
                0
            ]
            now = time.perf_counter()
            if rescored_at is None and step in ("promote", "done"):
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


class _CpuShare:
    """CPU seconds spent during the rescoring by the workers, by the bench database's
    PostgreSQL backends and this process, and by everything else on the machine (other
    people's work on a shared machine)."""

    def __init__(self, pool: Workers) -> None:
        self.pool = pool
        self.backends_end: dict[int, float] = {}
        self.backends: dict[int, float] = {}  # the CPU time last seen, per backend
        self.start = self._sample()
        self.backends_start = dict(self.backends)
        self.end = self.start

    def _sample(self) -> dict[str, Any]:
        self.poll()
        return {
            "workers": self.pool.cpu_seconds(),
            "bench": _cpu_seconds(os.getpid()),
            "machine": _machine_busy_seconds(),
        }

    def poll(self) -> None:
        """Backends come and go with the workers' tasks: read them while they live."""
        for pid in _database_backends():
            self.backends[pid] = max(self.backends.get(pid, 0.0), _cpu_seconds(pid))

    def stop(self) -> None:
        self.end = self._sample()
        self.backends_end = dict(self.backends)

    def shares(self) -> dict[str, float]:
        start, end = self.start, self.end
        workers = end["workers"] - start["workers"]
        database = sum(
            t - self.backends_start.get(pid, 0.0) for pid, t in self.backends_end.items()
        )
        bench = end["bench"] - start["bench"]
        machine = end["machine"] - start["machine"]
        return {
            "workers": round(workers, 1),
            "postgres": round(database, 1),
            "others": round(machine - workers - database - bench, 1),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=1_000_000, help="unlabelled, to score")
    parser.add_argument("--queued", type=int, default=50_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://... (the benchmark recreates <name>_retrain_bench)")
    url = bench_database(base)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis"):
        broker = DEFAULT_BROKER
    os.environ["CELERY_BROKER_URL"] = broker
    if args.load_only:
        recreate_database(url)
        django_setup(url)
        print(
            json.dumps(load(labelled=args.labelled, merchants=args.merchants, queued=args.queued))
        )
        return
    world: dict[str, Any] = {"skipped": True}
    if not args.skip_load:
        # Load in a child process, so that this one's peak memory is the chain's alone.
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--load-only", f"--labelled={args.labelled}",
             f"--merchants={args.merchants}", f"--queued={args.queued}"],
            check=True, env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        world = json.loads(out.stdout.strip().splitlines()[-1])
        world["load_seconds"] = round(time.perf_counter() - started, 1)
        print(f"loaded: {json.dumps(world)}", flush=True)
    django_setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a reused database may predate a migration
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": broker,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    print(f"machine: {machine()}", flush=True)
    log_dir = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    print(f"worker logs: {log_dir}", flush=True)
    runs = []
    for n in args.workers:
        result = retrain(n, env, log_dir)
        print(json.dumps(result), flush=True)
        runs.append(result)
    report(world, runs)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
