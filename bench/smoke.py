"""What the benchmarks' `--smoke` modes share: the tiny sizes replace the full run's, a
throwaway PostgreSQL database of the run's own, and a check that fails the run.

A smoke run goes through the same code at sizes that take seconds, so that CI
(tests/test_bench_smoke.py) catches a benchmark that a schema or API change broke. It
writes nothing to bench/RESULTS.md, bench/out/ or docs/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

from bench.queue_setup import drop_database, recreate_database

MAX_NAME = 63  # PostgreSQL truncates longer identifiers


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes in seconds, the same code and checks; writes no results (CI)",
    )


def shrink(args: argparse.Namespace, **sizes: Any) -> argparse.Namespace:
    """The smoke sizes, in place of whatever the command line asked for. From here a SIGTERM
    (a timed-out test stopping the script) ends the run through its `finally` blocks, so
    that its temporary folders and databases go too."""
    unknown = set(sizes) - set(vars(args))
    if unknown:
        raise ValueError(f"not options of this benchmark: {sorted(unknown)}")
    vars(args).update(sizes)
    signal.signal(signal.SIGTERM, _exit)
    return args


def database_url(base_url: str, kind: str) -> str:
    """`<name>_<kind>_smoke_<pid>` beside DATABASE_URL's database, which is never touched:
    each run has its own, so two at once (pytest-xdist, two people in one checkout) cannot
    drop each other's, and none is ever a test database."""
    parsed = urlparse(base_url)
    name = parsed.path.lstrip("/") or "postgres"
    suffix = f"_{kind}_smoke_{os.getpid()}"
    return urlunparse(parsed._replace(path=f"/{name[: MAX_NAME - len(suffix)]}{suffix}"))


@contextlib.contextmanager
def throwaway_database(base_url: str, kind: str) -> Iterator[str]:
    """Create the run's own database and drop it however the run ends; a SIGTERM (a timed-out
    test terminating the script) ends it through this `finally` too."""
    if not base_url.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://... (a smoke run makes its own database there)")
    url = database_url(base_url, kind)
    recreate_database(url)
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield url
    finally:
        signal.signal(signal.SIGTERM, previous)
        _close_django_connections()
        drop_database(url)


def _exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _close_django_connections() -> None:
    from django.apps import apps

    if apps.ready:
        from django.db import connections

        connections.close_all()


def check(ok: bool, what: str) -> None:
    """A smoke run's own sanity check: fail loudly if it did not do the work it stands for."""
    if not ok:
        sys.exit(f"smoke check failed: {what}")
