"""The fault tests' real parts: a private Redis, a worker and the relay as processes on the
test database (the tests that start processes need PostgreSQL: a worker in another process
cannot see SQLite's in-memory test database), with clocks short enough to recover in
seconds. Every test here is marked `faults`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.faults import harness


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def fast_clocks(settings) -> None:
    for name, value in harness.FAST_CLOCKS.items():
        setattr(settings, name, float(value))


@pytest.fixture
def database_url() -> str:
    db = django_settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def redis_server() -> Iterator[harness.RedisServer]:
    if not shutil.which("redis-server") and not os.path.exists("/usr/bin/redis-server"):
        pytest.skip("needs redis-server (apt-get install redis-server)")
    server = harness.RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path
