"""Server time of the pages people use all day, on the demo data (`make run`'s world).

An analyst's loop (the review screen with a claimed merchant, then a decision that answers
with the next merchant) and a lead's overview, each requested many times through Django's
test client in this process: the time is the server's (middleware, view, queries,
template), without a network or a WSGI server in front. Target: p95 <= 50 ms for each.

    python bench/pages.py                       # SQLite in a temporary folder, DEBUG off
    python bench/pages.py --debug               # DEBUG on, as `make run` serves it
    DATABASE_URL=postgres://... python bench/pages.py --database-url "$DATABASE_URL"
    python bench/pages.py --smoke               # tiny sizes (tests/test_bench_smoke.py)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue.
sys.path[0] = str(ROOT)

from bench import smoke

TARGET_MS = 50.0
LEASE = re.compile(r'name="lease" value="([0-9a-f-]{36})"')
ITEM = re.compile(r'data-item="(\d+)"')
DECISIONS = [("supportable", "none", ""), ("prohibited", "gambling", "Online casino.")]


def setup(database_url: str, var_dir: str, *, debug: bool) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        VAR_DIR=var_dir,
        DEBUG="1" if debug else "0",
        DJANGO_SETTINGS_MODULE="supportability.settings.dev",
        LOG_LEVEL="WARNING",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret"),
        # Follow-up work waits in the outbox (no relay here): a request never runs it.
        CELERY_TASK_ALWAYS_EAGER="0",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(samples: dict[str, list[tuple[float, int]]], name: str, call: Callable[[], Any]) -> Any:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The log keeps the last 9,000 queries: empty it, or a full log would count 0.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - start) * 1000
    if response.status_code >= 400:
        raise SystemExit(f"{name}: {response.status_code}\n{response.content[:2000]!r}")
    samples.setdefault(name, []).append((elapsed, len(queries)))
    return response


def analyst_loop(samples: dict[str, list[tuple[float, int]]], rounds: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="analyst"))
    htmx = {"HX-Request": "true"}
    timed(samples, "claim (N)", lambda: client.post("/queue/next/", headers=htmx))
    for i in range(rounds):
        page = timed(samples, "review screen (GET /queue/)", lambda: client.get("/queue/"))
        html = page.content.decode()
        lease, item = LEASE.search(html), ITEM.search(html)
        if not lease or not item:
            break  # the queue ran dry
        decision, category, rationale = DECISIONS[i % len(DECISIONS)]
        form = {
            "lease": lease.group(1),
            "decision": decision,
            "category": category,
            "rationale": rationale,
            "idempotency_key": f"bench-{i}-{time.time_ns()}",
        }
        url = f"/queue/items/{item.group(1)}/label/"

        def decide(url: str = url, form: dict[str, str] = form) -> Any:
            return client.post(url, form, headers=htmx)

        timed(samples, "decide -> next merchant (POST label)", decide)


def lead_pages(samples: dict[str, list[tuple[float, int]]], rounds: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from supportability.models import Merchant

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="lead"))
    merchant = Merchant.objects.filter(labels__isnull=False).order_by("id").first()
    for _ in range(rounds):
        timed(samples, "lead overview (GET /lead/)", lambda: client.get("/lead/"))
    if merchant is not None:
        for _ in range(max(1, rounds // 4)):
            timed(
                samples,
                "merchant timeline",
                lambda: client.get(f"/lead/merchants/{merchant.pk}/"),
            )


def report(samples: dict[str, list[tuple[float, int]]], *, debug: bool, merchants: int) -> bool:
    print(f"\n{merchants:,} demo merchants, DEBUG {'on' if debug else 'off'}, server time in ms\n")
    print("| request | n | p50 | p95 | p99 | max | queries |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    ok = True
    for name, values in samples.items():
        times = sorted(t for t, _ in values)
        queries = sorted({q for _, q in values})
        cuts = (
            statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
        )
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
        counted = f"{queries[0]}" if len(queries) == 1 else f"{queries[0]}-{queries[-1]}"
        print(
            f"| {name} | {len(times)} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {times[-1]:.1f} "
            f"| {counted} |"
        )
        if name.startswith(("review screen", "decide", "lead overview")) and p95 > TARGET_MS:
            ok = False
    print(f"\np95 target {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merchants", type=int, default=5_000, help="the demo's size")
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--database-url", default="", help="default: SQLite, temporary")
    parser.add_argument("--debug", action="store_true", help="DEBUG on, as make run")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args = smoke.shrink(args, merchants=600, requests=12)
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as var_dir:
        url = args.database_url or f"sqlite:///{var_dir}/bench.sqlite3"
        setup(url, var_dir, debug=args.debug)
        from review.demo.seeding import demo_seed

        start = time.perf_counter()
        demo_seed(merchants=args.merchants)
        print(f"demo seeded in {time.perf_counter() - start:.0f} s")
        samples: dict[str, list[tuple[float, int]]] = {}
        lead_pages(samples, 3)  # warm: templates compiled, caches filled
        samples.clear()
        analyst_loop(samples, args.requests)
        lead_pages(samples, args.requests)
        ok = report(samples, debug=args.debug, merchants=args.merchants)
    if args.smoke:
        print("smoke: pages served")  # timings are printed, never asserted
    elif not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
