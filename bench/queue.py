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
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file would shadow the
# standard library's `queue` (which multiprocessing imports): put the project root there.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse, urlunparse

# --- set-up -------------------------------------------------------------------------------


def bench_url(base_url: str) -> str:
    parsed = urlparse(base_url)
    name = parsed.path.lstrip("/") or "postgres"
    return urlunparse(parsed._replace(path=f"/{name.removesuffix('_bench')}_bench"))


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportability.settings.production")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ["DEBUG"] = "0"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def load(n: int, analysts: int) -> dict[str, Any]:
    """N merchants and N queued items by COPY (10 % need two labels), C analysts with
    tokens, and a second model's scores for every merchant (for the re-prioritisation)."""
    from django.core.management import call_command
    from django.db import connection

    from labeling.models import ReviewItem
    from labeling.services import queue_default
    from supportability.models import ModelVersion
    from supportability.roles import Role
    from supportability.services import token_create, user_create

    call_command("migrate", verbosity=0)
    queue = queue_default()
    queue.gold_rate = 0
    queue.save(update_fields=["gold_rate"])
    rng = random.Random(n)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY supportability_merchant (external_id, name, country, mcc, url, description,"
            " website_text, refund_rate, dispute_rate, cnp_share, account_age_days,"
            " monthly_volume, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        f"B{i:08d}",
                        f"Bench merchant {i}",
                        "US",
                        "5999",
                        f"https://m{i}.example",
                        "We sell things online.",
                        "Free shipping. Returns within 30 days.",
                        rng.random() * 0.1,
                        rng.random() * 0.02,
                        rng.random(),
                        rng.randrange(30, 3000),
                        rng.random() * 100_000,
                        "now",
                        "now",
                    )
                )
        cursor.execute("SELECT min(id) FROM supportability_merchant")
        first_id = cursor.fetchone()[0]
        with cursor.copy(
            "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
            " propensity, required_labels, label_count, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        first_id + i,
                        queue.pk,
                        ReviewItem.Reason.FLAGGED,
                        ReviewItem.Status.QUEUED,
                        round(rng.random(), 4),  # 4 decimals: plenty of exact ties
                        1.0,
                        2 if rng.random() < 0.1 else 1,
                        0,
                        "now",
                        "now",
                    )
                )
        model = ModelVersion.objects.create(
            name="bench", version="2", status=ModelVersion.Status.EXTERNAL
        )
        with cursor.copy(
            "COPY supportability_score (merchant_id, model_version_id, probability,"
            " explanation, created_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((first_id + i, model.pk, rng.random(), "{}", "now"))
        cursor.execute("ANALYZE")
    load_seconds = time.perf_counter() - started
    tokens = []
    for a in range(analysts):
        user, _ = user_create(username=f"bench{a}", role=Role.ANALYST, password="bench-pw")
        _, secret = token_create(name=f"bench{a}", scopes=["queue:work"], user=user)
        tokens.append(secret)
    return {"load_seconds": load_seconds, "tokens": tokens, "model_id": model.pk}


# --- the service layer ----------------------------------------------------------------------


def _analyst(url: str, index: int, seconds: float, out: Any, gate: Any) -> None:
    django_setup(url)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeling import services

    user = get_user_model().objects.get(username=f"bench{index}")
    claims: list[float] = []
    labels: list[float] = []
    queries: list[float] = []
    error = ""

    def time_claim_query(execute, sql, params, many, context):
        # The claim query proper: the statement that finds and locks the next item.
        if "SKIP LOCKED" not in sql:
            return execute(sql, params, many, context)
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - t0) * 1000)

    timing = connection.execute_wrapper(time_claim_query)  # keep a reference: it pops on GC
    timing.__enter__()
    gate.wait()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            lease = services.item_claim(user=user)
            claims.append((time.perf_counter() - t0) * 1000)
            if lease is None:
                break
            t0 = time.perf_counter()
            services.label_submit(
                user=user,
                item_id=lease.item_id,
                lease_token=lease.token,
                data=services.LabelInput("supportable", "none", "", uuid.uuid4().hex),
            )
            labels.append((time.perf_counter() - t0) * 1000)
    except Exception as exc:  # reported by the parent, which must not wait for ever
        error = f"{type(exc).__name__}: {exc}"
    out.put({"claims": claims, "labels": labels, "queries": queries, "error": error})


def run_analysts(url: str, analysts: int, seconds: float, during: Callable[[], Any] | None = None):
    """C analyst processes claim and label for `seconds`; `during` runs meanwhile (in this
    process) and its result is returned with the latencies."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    gate = ctx.Barrier(analysts + 1)
    procs = [
        ctx.Process(target=_analyst, args=(url, i, seconds, out, gate)) for i in range(analysts)
    ]
    for p in procs:
        p.start()
    gate.wait()
    started = time.perf_counter()
    extra = during() if during else None
    results = [out.get(timeout=seconds + 300) for _ in procs]
    errors = [r["error"] for r in results if r["error"]]
    if errors:
        raise RuntimeError(f"{len(errors)} analyst processes failed: {errors[0]}")
    elapsed = max(time.perf_counter() - started, seconds)
    for p in procs:
        p.join()
    claims = [ms for r in results for ms in r["claims"]]
    labels = [ms for r in results for ms in r["labels"]]
    queries = [ms for r in results for ms in r["queries"]]
    return claims, labels, queries, elapsed, extra


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def duplicates() -> int:
    """Items held by two leases at once, plus labels beyond an item's k."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM labeling_lease a JOIN labeling_lease b"
            " ON a.item_id = b.item_id AND a.id < b.id"
            " AND a.claimed_at < COALESCE(b.ended_at, 'infinity')"
            " AND b.claimed_at < COALESCE(a.ended_at, 'infinity')"
        )
        overlapping = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM labeling_reviewitem i"
            " WHERE (SELECT count(*) FROM labeling_label l WHERE l.item_id = i.id)"
            " > i.required_labels AND i.gold_id IS NULL AND i.label_count > 0"
        )
        return overlapping + cursor.fetchone()[0]


def explain_claim() -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim's head-of-queue read, for an analyst who has
    labelled items (so the NOT EXISTS checks do real work)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from labeling.selectors import queues_open_to
    from labeling.services.claims import _claimable

    user = get_user_model().objects.get(username="bench0")
    queues = [q.pk for q in queues_open_to(user)]
    head = (
        _claimable(user, queues, timezone.now())
        .filter(gold__isnull=True)
        .order_by("-priority", "id")
        .values_list("id", flat=True)[:8]
    )
    sql, params = head.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    root = (plan[0] if isinstance(plan, list) else json.loads(plan)[0])["Plan"]
    hits = root.get("Shared Hit Blocks", 0)
    reads = root.get("Shared Read Blocks", 0)
    return f"{hits} hit + {reads} read, {root['Actual Total Time']:.2f} ms"


# --- HTTP ----------------------------------------------------------------------------------


def start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="supportability.settings.production",
        SECRET_KEY="bench-only-secret",
        DEBUG="0",
        SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
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
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


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


# --- one size -----------------------------------------------------------------------------


def bench_size(base_url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    url = bench_url(base_url)
    recreate_database(url)
    django_setup(url)
    from django.db import connection

    print(f"# {n:,} items: loading", file=sys.stderr, flush=True)
    setup = load(n, args.analysts)
    connection.close()

    print(f"# {n:,} items: service layer", file=sys.stderr, flush=True)
    claims, labels, queries, elapsed, _ = run_analysts(url, args.analysts, args.seconds)
    row: dict[str, Any] = {
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
        t0 = time.perf_counter()
        queue_reprioritise(model_version=model)
        seconds = time.perf_counter() - t0
        connection.close()
        return seconds

    during_claims, _, during_queries, _, seconds = run_analysts(
        url, args.analysts, args.reprioritise_seconds, reprioritise
    )
    row.update(
        {
            "re-prioritise all s": f"{seconds:.1f}",
            "claim p99 during it ms (service / query)": (
                f"{pct(during_claims, 99):.1f} / {pct(during_queries, 99):.1f}"
            ),
            "duplicates": str(duplicates()),
            "claim query buffers (EXPLAIN)": explain_claim(),
        }
    )
    connection.close()
    return row


def _triple(values: list[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 95):.1f} / {pct(values, 99):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--analysts", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--reprioritise-seconds", type=float, default=15)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=4)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL (a <name>_bench database is made there)")
    rows = [bench_size(base_url, n, args) for n in args.sizes]
    print(f"\n{args.analysts} analysts, {args.seconds:g} s per phase, {os.cpu_count()} cores\n")
    keys = list(rows[0])
    print("| measure | " + " | ".join(r["items queued"] for r in rows) + " |")
    print("| --- | " + " | ".join("---" for _ in rows) + " |")
    for key in keys[1:]:
        print(f"| {key} | " + " | ".join(r[key] for r in rows) + " |")


if __name__ == "__main__":
    main()
