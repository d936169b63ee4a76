"""Real parts to break: a private Redis, Celery workers and the outbox relay as separate
processes on the test database, simulated analysts over HTTP. Used by the fault tests
(tests/faults/, CI) and by bench/faults.py (long runs). Never touches the machine's shared
Redis: each harness starts its own on a free port."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# Short clocks, so that a fault is recovered in seconds, not minutes (the defaults are
# production's: heartbeat 10 s, takeover 30 s, republish 5 min, stale run 2 min).
FAST_CLOCKS = {
    "OUTBOX_HEARTBEAT_SECONDS": "0.5",
    "OUTBOX_TAKEOVER_SECONDS": "2",
    "OUTBOX_REPUBLISH_SECONDS": "5",
    "RUN_STALE_SECONDS": "4",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], Any], *, timeout: float, every: float = 0.1, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what or check}")


class RedisServer:
    """A private redis-server. Without persistence, like the machine's: a restart loses
    what it held (the outbox publishes again what was never started)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="fault-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, timeout=10, what="redis to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def process_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(FAST_CLOCKS)
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        DJANGO_SETTINGS_MODULE="supportability.settings.test",
        PYTHONUNBUFFERED="1",
        # The beat's sealer checkpoints this database's chain: a directory of its own.
        AUDIT_CHECKPOINT_DIR=tempfile.mkdtemp(prefix="faults-checkpoints-"),
    )
    env.update(extra)
    return env


class Process:
    """A child process in a process group of its own, with its output kept in a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill_all(self) -> None:
        """kill -9 of the whole process group (the machine or container dies)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill_all()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def worker(env: dict[str, str], logs: Path, *, name: str = "worker") -> Process:
    return Process(
        name,
        [PYTHON, "-m", "celery", "-A", "supportability", "worker", "--pool", "prefork",
         "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel", "INFO", "--hostname", f"{name}@%h"],
        env,
        logs,
    )  # fmt: skip


def worker_starter(env: dict[str, str], logs: Path) -> Callable[[], Process]:
    """Starts a new worker (worker1, worker2, ...) and waits until it consumes: what a
    supervisor does after a worker dies."""
    started = [0]

    def start() -> Process:
        started[0] += 1
        process = worker(env, logs, name=f"worker{started[0]}")
        process.start()
        wait_until_consuming(process)
        return process

    return start


def relay(env: dict[str, str], logs: Path) -> Process:
    return Process(
        "relay",
        [PYTHON, "manage.py", "relay_outbox", "--loop", "--interval", "0.3"],
        env,
        logs,
    )


def wait_until_consuming(process: Process, *, timeout: float = 60) -> None:
    wait_for(
        lambda: (
            "ready." in process.log_path.read_text(errors="replace")
            if process.log_path.exists()
            else False
        ),
        timeout=timeout,
        what=f"{process.name} to be ready",
    )


# --- simulated analysts ---------------------------------------------------------------


@dataclass
class Tally:
    labelled: list[int] = field(default_factory=list)  # label ids the API confirmed
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


DECISIONS = [("supportable", "none"), ("prohibited", "drugs"), ("restricted", "gambling")]


def analyst_loop(
    base: str,
    token: str,
    stop: threading.Event,
    tally: Tally,
    seed: int,
    think: tuple[float, float] = (0.01, 0.05),
) -> None:
    """Claim, think a moment, label; until told to stop. Only the API's own answers count:
    a refused connection would be the web server's fault, and is recorded as an error."""
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    while not stop.is_set():
        try:
            claim = session.post(f"{base}/api/v1/queue/claim/", json={}, timeout=30)
            tally.count(claim.status_code)
            if claim.status_code == 204:
                time.sleep(0.2)
                continue
            if claim.status_code != 200:
                time.sleep(0.2)
                continue
            body = claim.json()
            decision, category = rng.choice(DECISIONS)
            time.sleep(rng.uniform(*think))
            label = session.post(
                f"{base}/api/v1/items/{body['item']['id']}/labels/",
                json={
                    "lease": body["lease"]["token"],
                    "decision": decision,
                    "category": category,
                    "rationale": "checked the site",
                    "idempotency_key": f"k-{seed}-{body['item']['id']}-{body['lease']['token']}",
                },
                timeout=30,
            )
            tally.count(label.status_code)
            if label.status_code in (200, 201):
                with tally.lock:
                    tally.labelled.append(label.json()["id"])
        except requests.RequestException as exc:
            with tally.lock:
                tally.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.2)


@contextmanager
def analysts(
    base: str, tokens: list[str], tally: Tally, *, think: tuple[float, float] = (0.01, 0.05)
) -> Iterator[None]:
    """Analysts labelling over HTTP until the block ends, each spending `think` seconds
    (uniform between the two) on a merchant."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=analyst_loop, args=(base, token, stop, tally, i, think), daemon=True
        )
        for i, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def post_mortem(processes: list[Process]) -> None:
    """On a failure: what each process said last, and the outbox as it stands."""
    from supportability.models import OutboxMessage

    for process in processes:
        alive = process.process is not None and process.process.poll() is None
        print(f"--- {process.name} ({'running' if alive else 'not running'}):")
        print(process.log_tail(60))
    print("--- open outbox messages:")
    for row in OutboxMessage.objects.filter(done_at__isnull=True).values(
        "id", "task", "run_id", "published_at", "publish_attempts", "publish_error",
        "started_at", "heartbeat_at", "deliveries",
    ):  # fmt: skip
        print(row)


def say(message: str) -> None:
    """What the scenario did and what it checked, in the test's output."""
    print(f"[fault] {message}", flush=True)
