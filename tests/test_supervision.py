"""`make run`'s supervisor under fire: kill -9 the Celery worker's main process, then
gunicorn's master; the others keep running and serving meanwhile, each killed one comes
back, a program that cannot start is tried again for ever, and stopping supervisord leaves
no process behind.

The stack is the shipped deploy/supervisord.conf, as `make run` starts it, on SQLite under a
temporary VAR_DIR with the file-system broker and DEBUG on; the demo seed is left out
(/login/ needs none). It runs once in CI, on the SQLite pass.
"""

from __future__ import annotations

import configparser
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from supervisor.xmlrpc import SupervisorTransport

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONF = ROOT / "deploy" / "supervisord.conf"
# Every process the stack starts inherits this variable; after the stop none may have it.
TOKEN = "SUPERVISION_TEST_RUN"
# A liveness deadline, not a timing: each restart takes about 5 s on an idle machine.
BACK_WITHIN = 30.0

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="runs once, on the SQLite pass (the stack is the same on PostgreSQL)",
    ),
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _login_status(port: int) -> int | None:
    # A refused connection or an error status counts against the web server; a slow answer
    # does not: on 2 cores shared with other work a page can take seconds while the killed
    # program starts again.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/login/")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _stat(pid: int) -> list[str] | None:
    """State, ppid, ... of a process (after the parenthesised name), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == pid:
                kids.add(int(entry.name))
    return kids


def _processes_with(token: str) -> list[str]:
    needle = f"{TOKEN}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _alive(int(entry.name)):
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(f"{entry.name} {(entry / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def _wait(done: Callable[[], bool], seconds: float, what: str) -> float:
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def _config(var: Path) -> Path:
    """The shipped config, plus `crash`: the relay's settings with a command that exits at
    once, to show that a program which cannot start is still tried after supervisord alone
    would have given up, and that it stops nothing else."""
    shipped = configparser.RawConfigParser()
    shipped.read(CONF)
    crash = dict(shipped["program:relay"])
    crash["command"] = f"{sys.executable} -c \"raise SystemExit('crashes at start')\""
    conf = var / "supervisord.conf"
    conf.write_text(
        f"[include]\nfiles = {CONF}\n\n[program:crash]\n"
        + "".join(f"{key}={value}\n" for key, value in crash.items())
    )
    return conf


class Stack:
    def __init__(self, var: Path, port: int, token: str) -> None:
        self.var, self.port, self.token = var, port, token
        self.output = var / "terminal.txt"
        env = {
            key: value
            for key, value in os.environ.items()
            # The test settings' own, and the database and broker: it runs as `make run` does.
            if key not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "CELERY_TASK_ALWAYS_EAGER"}
            and key not in {"DATABASE_URL", "CELERY_BROKER_URL"}
        }
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            VAR_DIR=str(var),
            PORT=str(port),
            WEB_WORKERS="1",
            WORKER_CONCURRENCY="1",
            DEBUG="1",
            **{TOKEN: token},
        )
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        transport = SupervisorTransport(None, None, f"unix://{var}/supervisor.sock")
        self.rpc: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport)

    def start(self) -> float:
        """Migrate (returns how long that took), then start supervisord."""
        (self.var / "log").mkdir()
        started = time.monotonic()
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        migrated = time.monotonic() - started
        # Append mode: supervisord writes this file through two descriptors of its own.
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [BIN / "supervisord", "-c", _config(self.var)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return migrated

    def pid(self, name: str) -> int:
        try:
            return int(self.rpc.supervisor.getProcessInfo(name)["pid"])
        except (OSError, xmlrpc.client.Error):
            return 0

    def terminal(self) -> str:
        return self.output.read_text(errors="replace")

    def supervisord_log(self) -> str:
        return (self.var / "log" / "supervisord.log").read_text(errors="replace")

    def worker_ready_lines(self) -> int:
        # The worker's own "celery@host ready." behind its name: log_prefix at work.
        return sum(
            1
            for line in self.terminal().splitlines()
            if line.startswith("worker | ") and line.endswith(" ready.")
        )

    def kill_everything(self) -> None:
        for line in _processes_with(self.token):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.fixture
def stack() -> Any:
    var = Path(tempfile.mkdtemp(prefix="sv-"))  # short: the control socket's path is bounded
    stack = Stack(var, _free_port(), uuid.uuid4().hex)
    try:
        yield stack
    except BaseException:
        print(stack.terminal()[-6000:])
        raise
    finally:
        stack.kill_everything()
        shutil.rmtree(var, ignore_errors=True)


def test_killed_programs_come_back_while_the_others_serve(stack: Stack) -> None:
    started = time.monotonic()
    migrated = stack.start()
    port = stack.port
    _wait(lambda: _login_status(port) == 200, 90, "/login/ answers 200")
    _wait(lambda: stack.worker_ready_lines() == 1, 90, "the worker says it is ready")
    web, worker, beat = (stack.pid(f"app:{name}") for name in ("web", "worker", "beat"))
    print(
        f"migrated in {migrated:.1f} s, all up after {time.monotonic() - started:.1f} s: "
        f"web {web}, worker {worker}, beat {beat}"
    )

    # The worker's main process dies: web keeps answering, beat keeps running.
    pool = _children(worker)
    os.kill(worker, signal.SIGKILL)
    answers: list[int | None] = []

    def worker_back() -> bool:
        answers.append(_login_status(port))
        new = stack.pid("app:worker")
        return new not in (0, worker) and stack.worker_ready_lines() == 2

    took = _wait(worker_back, BACK_WITHIN, "a new worker says it is ready")
    print(
        f"kill -9 worker {worker}: a new one ({stack.pid('app:worker')}) ready after "
        f"{took:.1f} s; /login/ meanwhile {answers.count(200)}/{len(answers)} times 200; "
        f"its pool {sorted(pool)} gone"
    )
    assert answers and set(answers) == {200}
    assert not [pid for pid in pool if _alive(pid)]
    assert (stack.pid("app:web"), stack.pid("app:beat")) == (web, beat)
    worker = stack.pid("app:worker")

    # gunicorn's master dies: its workers follow it out, the worker and beat stay up.
    web_workers = _children(web)
    os.kill(web, signal.SIGKILL)

    def web_back() -> bool:
        assert _alive(worker) and _alive(beat)
        new = stack.pid("app:web")
        return new not in (0, web) and _login_status(port) == 200

    took = _wait(web_back, BACK_WITHIN, "a new gunicorn answers /login/ with 200")
    _wait(lambda: not [pid for pid in web_workers if _alive(pid)], 10, "old web workers gone")
    print(
        f"kill -9 gunicorn master {web}: a new one ({stack.pid('app:web')}) answers 200 "
        f"after {took:.1f} s; its workers {sorted(web_workers)} gone; worker {worker} and "
        f"beat {beat} stayed up"
    )
    assert (stack.pid("app:worker"), stack.pid("app:beat")) == (worker, beat)

    # Supervisord alone starts a crashing program 1 + startretries times, then gives up.
    def crash_tried_after_giving_up() -> bool:
        log = stack.supervisord_log()
        gave_up = log.find("gave up: crash entered FATAL state")
        return gave_up >= 0 and "spawned: 'crash'" in log[gave_up:]

    _wait(crash_tried_after_giving_up, BACK_WITHIN, "retry_fatal starts `crash` again")
    spawns = stack.supervisord_log().count("spawned: 'crash'")
    print(f"crash (exits at start, the relay's settings): started {spawns} times so far")
    relay = stack.rpc.supervisor.getProcessInfo("app:relay")
    print(f"relay: {relay['statename']} {relay['spawnerr'] or ''}".rstrip())

    # Ctrl-C reaches supervisord alone (each program has a process group of its own).
    assert stack.process is not None
    stack.process.send_signal(signal.SIGINT)
    stopping = time.monotonic()
    code = stack.process.wait(timeout=60)
    left = _processes_with(stack.token)
    print(
        f"SIGINT to supervisord: exited {code} after {time.monotonic() - stopping:.1f} s; "
        f"processes left: {left or 'none'}; whole test {time.monotonic() - started:.1f} s"
    )
    assert code == 0
    assert left == []
