"""Real Celery workers for bench/retrain.py, started and stopped here, and what they cost:
peak memory of each pool process, and the CPU time of the workers, of their PostgreSQL
backends and of everything else on the machine while they rescore."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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
    """N `celery -A supportability worker --concurrency 1` processes on the bench database,
    named after this run (a ping counts only them, not another run's)."""

    def __init__(self, n: int, env: dict[str, str], log_dir: Path) -> None:
        self.processes = []
        self.name = f"retrain-bench-{os.getpid()}-"
        for i in range(n):
            log = (log_dir / f"worker{i}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "supportability", "worker",
                     "--concurrency", "1", "--pool", "prefork", "-n", f"{self.name}{i}@%h",
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
            if sum(self.name in name for reply in replies for name in reply) >= len(self.processes):
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


class CpuShare:
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
