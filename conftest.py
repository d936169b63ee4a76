"""Root fixtures. Tests marked `postgres`, `browser` or `redis` need a real part; where it is
missing they skip with the reason, or fail when REQUIRE_<PART>=1 (CI sets all three)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing(part: str) -> str | None:
    if part == "postgres" and not settings.IS_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if part == "browser" and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"needs chromium at {CHROMIUM}: apt-get install chromium"
    if part == "redis" and not str(settings.CELERY_BROKER_URL).startswith("redis://"):
        return "needs a Redis broker: set CELERY_BROKER_URL=redis://..."
    return None


@pytest.fixture(autouse=True)
def _require_real_parts(request: pytest.FixtureRequest) -> None:
    for part in ("postgres", "browser", "redis"):
        if request.node.get_closest_marker(part) is None:
            continue
        reason = _missing(part)
        if reason is None:
            continue
        if os.environ.get(f"REQUIRE_{part.upper()}") == "1":
            pytest.fail(f"REQUIRE_{part.upper()}=1 but this run {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty cache (the per-process one the pages use for the
    percentile table and the estimates), as a new server process would."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _own_checkpoints(tmp_path_factory: pytest.TempPathFactory, settings: Any) -> Any:
    """Each test seals against checkpoints of its own: its database starts empty (or is
    rolled back), and a checkpoint another test wrote would not match its chain."""
    # Named, not made: the store makes it on its first write, which most tests never do.
    directory = tmp_path_factory.getbasetemp() / "checkpoints" / uuid.uuid4().hex
    settings.AUDIT_CHECKPOINT_DIR = directory
    return directory


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from tests.factories import UserFactory

    def make(role: str | None = "analyst", **kwargs: Any) -> Any:
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def analyst(make_user: Callable[..., Any]) -> Any:
    return make_user("analyst", username="ana")


@pytest.fixture
def lead(make_user: Callable[..., Any]) -> Any:
    return make_user("lead", username="lea")


@pytest.fixture
def taxonomy(transactional_db: Any) -> None:
    """Transactional tests flush the database after each test, data migrations included:
    reinstall the policy taxonomy for them."""
    from supportability.models import PolicyCategory, PolicyVersion
    from supportability.taxonomy import taxonomy_install

    taxonomy_install(PolicyCategory, PolicyVersion)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """A reused test database may have been flushed by the last run's transactional tests:
    make sure the reference data is there before any test starts."""
    from supportability.models import PolicyCategory, PolicyVersion
    from supportability.taxonomy import taxonomy_install

    with django_db_blocker.unblock():
        taxonomy_install(PolicyCategory, PolicyVersion)


@pytest.fixture
def celery_not_eager() -> Any:
    """Celery as in production: tasks go to the broker and outbox messages wait for a relay.
    (The setting is namespaced: `app.conf.task_always_eager = x` does not override it.)"""
    from supportability.celery import app

    was = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = False
    yield app
    app.conf.CELERY_TASK_ALWAYS_EAGER = was


@pytest.fixture
def settled(monkeypatch, settings):
    """The world with every merchant's clean label settled (the refresh, tested in
    test_clean_labels.py, would recompute them from labels: kept as they are here).

    Its held-out fifth has a few labels in its rarer categories, fewer than the gate's
    default minimum, so a retraining here would always wait for a lead: the tests that use
    it check the chain's steps, and lower the minimum to 1 (the minimum itself is tested in
    tests/ml/test_evaluation.py and test_retrain.py's held-for-evidence test)."""
    settings.GATE_MIN_LABELS_PER_CATEGORY = 1
    import review.services.retraining as retraining
    from review.demo.seeding import demo_seed
    from supportability.models import GroundTruth
    from tests.factories import clean_labels_from_truth

    # Larger than `world`: a fifth is held out, and PR-AUC over a handful of violators is
    # too noisy to rank two models.
    world = demo_seed(merchants=2_000, seed=11, history=False)
    monkeypatch.setattr(retraining, "clean_labels_refresh", lambda **kwargs: 0)
    clean_labels_from_truth(
        GroundTruth.objects.select_related("merchant").order_by("merchant__external_id")
    )
    return world
