"""A real Celery worker consuming from Redis runs the retraining the lead asked for."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from review.demo.seeding import demo_seed
from review.services import retrain_start
from supportability.celery import app
from supportability.models import ModelVersion, TrainingRun

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def _wait(run: TrainingRun, seconds: float = 120) -> TrainingRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            break
        time.sleep(0.5)
    return run


def test_the_retraining_chain_runs_on_a_real_worker_over_redis(
    settings, lead, celery_not_eager, monkeypatch
):
    """The chain's steps, then (the demo world has no reviewed labels to evaluate on, so
    the gate holds the candidate) a lead's promotion: the rescoring fans out into chunk
    tasks on the worker and the last one to finish promotes. The test plays the relay
    for the first message of each; the worker publishes the rest as each step ends."""
    from review.services import candidate_promote, retrain_steps
    from supportability.outbox import outbox_relay

    demo_seed(merchants=600, seed=3, history=False)
    first = ModelVersion.objects.get(status="champion")
    monkeypatch.setattr(retrain_steps, "RESCORE_CHUNK", 150)  # four chunk tasks for 600
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        run = retrain_start(actor=lead)
        assert outbox_relay().published == 1
        run = _wait(run)
        assert run.status == TrainingRun.Status.HELD, run.message
        assert run.gate["reasons"] == ["No held-out labels to evaluate on yet."]
        promotion = candidate_promote(actor=lead, model_version_id=run.model_version_id)
        assert outbox_relay().published == 4
        promotion = _wait(promotion)
    assert promotion.status == TrainingRun.Status.SUCCEEDED, promotion.message
    champion = ModelVersion.objects.get(status="champion")
    assert champion != first and champion.snapshot_id == run.snapshot_id
    assert champion.scores.count() == 600
