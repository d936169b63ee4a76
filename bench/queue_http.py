"""The queue benchmark over HTTP: gunicorn serving the API, and keep-alive client threads,
one analyst each."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on now (the smoke run's server must not meet another's)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="supportability.settings.production",
        SECRET_KEY="bench-only-secret",
        AUDIT_CHECKPOINT_KEY="bench-only-checkpoint-key-0123456789",
        DEBUG="0",
        SECURE_COOKIES="0",
        SECURE_SSL_REDIRECT="0",  # plain HTTP on loopback: no redirect to https
        LOG_LEVEL="WARNING",
        # The bench measures the queue's own throughput, not the API's rate limits.
        API_TOKEN_RATE="1000000/min",
        API_USER_RATE="1000000/min",
    )
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "supportability.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_healthy(server, port)
    except RuntimeError:
        # Its own session: nothing else stops it, and it holds our stdout open.
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        raise
    return server


def _wait_healthy(server: subprocess.Popen[bytes], port: int) -> None:
    status = None
    for _ in range(100):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not serve /healthz (last status {status})")


def server_peak_rss_mb(server: subprocess.Popen[bytes]) -> float:
    """Peak resident memory (VmHWM) of the largest gunicorn process."""
    pids = [server.pid]
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    peak = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


def _http_client(port: int, token: str, seconds: float, out: list[Any], gate: threading.Barrier):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    claims: list[float] = []
    labels: list[float] = []
    errors = 0
    n = 0
    # Warm up (imports, connections, caches in every worker) before the clock starts.
    for _ in range(3):
        conn.request("POST", "/api/v1/queue/claim/", body="{}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status == 200:
            claim = json.loads(body)
            conn.request(
                "POST",
                f"/api/v1/items/{claim['item']['id']}/labels/",
                body=json.dumps(
                    {
                        "lease": claim["lease"]["token"],
                        "decision": "supportable",
                        "idempotency_key": uuid.uuid4().hex,
                    }
                ),
                headers=headers,
            )
            conn.getresponse().read()
    gate.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/queue/claim/", body="{}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        claims.append((time.perf_counter() - t0) * 1000)
        if response.status == 204:
            break
        if response.status != 200:
            errors += 1
            continue
        claim = json.loads(body)
        n += 1
        payload = json.dumps(
            {
                "lease": claim["lease"]["token"],
                "decision": "supportable",
                "idempotency_key": f"http-{token[-6:]}-{n}",
            }
        )
        t0 = time.perf_counter()
        conn.request(
            "POST", f"/api/v1/items/{claim['item']['id']}/labels/", body=payload, headers=headers
        )
        response = conn.getresponse()
        response.read()
        labels.append((time.perf_counter() - t0) * 1000)
        if response.status not in (200, 201):
            errors += 1
    out.append({"claims": claims, "labels": labels, "errors": errors})


def run_http(port: int, tokens: list[str], seconds: float):
    out: list[Any] = []
    gate = threading.Barrier(len(tokens) + 1)
    threads = [
        threading.Thread(target=_http_client, args=(port, t, seconds, out, gate)) for t in tokens
    ]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    claims = [ms for r in out for ms in r["claims"]]
    labels = [ms for r in out for ms in r["labels"]]
    return claims, labels, elapsed, sum(r["errors"] for r in out)
