"""A real Celery worker consuming from Redis runs the retraining the lead asked for."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from review.seeding import demo_seed
from review.services import retrain_start
from supportability.celery import app
from supportability.models import ModelVersion, TrainingRun

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_retrain_runs_on_a_real_worker_over_redis(settings, lead):
    demo_seed(merchants=600, seed=3, history=False)
    first = ModelVersion.objects.get(status="champion")
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            run = retrain_start(actor=lead)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if not run.is_active:
                    break
                time.sleep(0.5)
    finally:
        app.conf.task_always_eager = True
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
    champion = ModelVersion.objects.get(status="champion")
    assert champion != first and champion.snapshot_id == run.snapshot_id
    assert champion.scores.count() == 600
