"""The queue benchmark's analysts working through the service layer, one process each,
and the checks run afterwards (duplicates, the claim query's plan)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.queue_setup import django_setup


def _analyst(url: str, index: int, seconds: float, out: Any, gate: Any) -> None:
    django_setup(url)
    if writer := os.environ.get("BENCH_AUDIT_WRITER"):  # bench/audit.py's comparison
        from bench.audit_writers import install

        install(writer)
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
