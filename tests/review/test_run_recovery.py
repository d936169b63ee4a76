"""A retraining whose worker died is recovered as failed with its reason, releases the
lock, and resumes where it stopped when a lead retries it; one that only waits for a
worker or the broker waits, visibly, for as long as it takes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from review import services
from review.demo.seeding import demo_seed
from supportability.models import AuditEvent, ModelVersion, OutboxMessage, TrainingRun
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return demo_seed(merchants=600, seed=11, history=False)


def _started(run: TrainingRun, *, silent_for: timedelta) -> OutboxMessage:
    """The run's waiting message, as a worker that took it and has been silent since."""
    message = run.outbox.get(done_at__isnull=True)
    beat = timezone.now() - silent_for
    OutboxMessage.objects.filter(pk=message.pk).update(started_at=beat, heartbeat_at=beat)
    return message


def test_a_run_whose_worker_stopped_heartbeating_is_failed_with_the_reason(
    world, lead, celery_not_eager, settings
):
    run = services.retrain_start(actor=lead)
    message = _started(run, silent_for=timedelta(seconds=settings.RUN_STALE_SECONDS + 5))
    [recovered] = services.runs_recover()
    assert recovered.pk == run.pk
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED and not run.holds_lock
    assert "The worker running step 'queued' stopped" in run.message
    message.refresh_from_db()
    assert message.outcome == OutboxMessage.Outcome.ABANDONED
    assert services.retrain_start(actor=lead).holds_lock  # the lock is free again


def test_a_run_waiting_for_a_worker_or_the_broker_is_not_failed(
    world, lead, celery_not_eager, settings
):
    run = services.retrain_start(actor=lead)
    long_ago = timezone.now() - timedelta(hours=2)
    run.outbox.update(created_at=long_ago, publish_error="Connection refused")
    TrainingRun.objects.filter(pk=run.pk).update(created_at=long_ago)
    assert services.runs_recover() == []
    run.refresh_from_db()
    assert run.is_active
    html = logged_in(lead).get(f"/lead/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "queued, waiting for workers" in html
    assert "broker is unreachable" in html


def test_a_run_whose_worker_heartbeats_is_left_alone(world, lead, celery_not_eager, settings):
    run = services.retrain_start(actor=lead)
    _started(run, silent_for=timedelta(seconds=5))
    assert services.runs_recover() == []


def test_a_run_from_before_the_outbox_with_nothing_to_run_it_is_failed(world, lead, settings):
    lost = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, step="train")
    TrainingRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 60)
    )
    run = services.retrain_start(actor=lead, enqueue=False)  # recovers on its way
    lost.refresh_from_db()
    assert lost.status == TrainingRun.Status.FAILED and not lost.holds_lock
    assert "Nothing was left to run step 'train'" in lost.message
    assert run.holds_lock


def test_a_retried_run_resumes_at_its_step_and_makes_one_model(
    settled, lead, monkeypatch, django_capture_on_commit_callbacks
):
    """A step fails (here evaluation raises); the lead retries; the run resumes at
    evaluate with the snapshot and the model version it had: one of each per run."""
    import review.services.retraining as retraining

    real = retraining.holdout_rows

    def crash(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(retraining, "holdout_rows", crash)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        services.retrain_start(actor=lead)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED and run.step == "evaluate"
    assert "out of memory" in run.message
    made = (run.snapshot_id, run.model_version_id)
    monkeypatch.setattr(retraining, "holdout_rows", real)
    client = logged_in(lead)
    page = client.get(f"/lead/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Retry from step evaluate" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/lead/runs/{run.pk}/retry/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.attempt == 2
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
    assert (run.snapshot_id, run.model_version_id) == made
    assert ModelVersion.objects.filter(version=f"run{run.pk}").count() == 1
    retry = AuditEvent.objects.get(verb="retrain.retry")
    assert retry.before["step"] == "evaluate" and retry.after["attempt"] == 2


def test_retry_is_refused_while_another_run_is_active_and_for_runs_not_failed(
    world, lead, celery_not_eager
):
    failed = TrainingRun.objects.create(
        status=TrainingRun.Status.FAILED, holds_lock=False, step="train"
    )
    active = services.retrain_start(actor=lead)
    with pytest.raises(services.RetrainBusy):
        services.retrain_retry(actor=lead, run_id=failed.pk)
    with pytest.raises(services.Conflict):
        services.retrain_retry(actor=lead, run_id=active.pk)
    failed.refresh_from_db()
    assert failed.status == TrainingRun.Status.FAILED and failed.attempt == 1


def test_only_leads_may_retry(world, analyst, lead):
    failed = TrainingRun.objects.create(
        status=TrainingRun.Status.FAILED, holds_lock=False, step="train"
    )
    assert logged_in(analyst).post(f"/lead/runs/{failed.pk}/retry/").status_code == 403
    assert logged_in(lead).post("/lead/runs/999999/retry/").status_code == 404
    failed.refresh_from_db()
    assert failed.attempt == 1


def test_with_the_broker_down_retrain_answers_and_waits_for_workers(
    world, lead, celery_not_eager, monkeypatch
):
    """A request never talks to the broker: Retrain is accepted while it is down and shows
    the run waiting; the relay's next tick hands it over once the broker is back."""
    from supportability.outbox import outbox_relay

    def refuse(*args, **kwargs):
        raise AssertionError("a request called the broker")

    monkeypatch.setattr(celery_not_eager, "send_task", refuse)
    client = logged_in(lead)
    response = client.post("/lead/retrain/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "queued, waiting for workers" in response.content.decode()
    response = client.post("/lead/agreement/recompute/")
    assert response.status_code == 302
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 2
    sent = []
    monkeypatch.setattr(celery_not_eager, "send_task", lambda name, args, **kw: sent.append(name))
    assert outbox_relay().published == 2
    assert sent == ["review.tasks.retrain_snapshot", "review.tasks.quality_compute_requested"]


def test_a_step_that_outlives_its_runs_recovery_does_not_bring_it_back(settled, lead, monkeypatch):
    """A worker whose heartbeat stopped but whose task went on: the run was recovered as
    failed meanwhile, and the step's result must not revive it (nor free a second chain)."""
    import review.services.retrain_steps as retrain_steps
    import review.services.retraining as retraining

    real = retraining.model_train

    def recovered_meanwhile(**kwargs):
        trained = real(**kwargs)
        retrain_steps.retrain_failed(run_id=run.pk, error="recovered while training")
        return trained

    monkeypatch.setattr(retraining, "model_train", recovered_meanwhile)
    run = services.retrain_start(actor=lead, enqueue=False)
    services.retrain_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED and not run.holds_lock
    assert run.message == "recovered while training"
    assert not ModelVersion.objects.filter(version=f"run{run.pk}").exists()
    assert not run.outbox.filter(task="review.tasks.retrain_evaluate").exists()


def test_an_inline_run_whose_command_stopped_is_recovered(world, lead, settings):
    """manage.py retrain killed between two steps: its next message is never published,
    so it waits for no one; the run's silence tells."""
    run = services.retrain_start(actor=lead, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 5)
    )
    [recovered] = services.runs_recover()
    assert recovered.pk == run.pk and "Nothing was left to run step 'queued'" in recovered.message


def test_merchants_arriving_during_the_rescoring_do_not_keep_it_from_finishing(settled, lead):
    from supportability.outbox import outbox_drain
    from tests.factories import MerchantFactory

    run = services.retrain_start(actor=lead, enqueue=False)
    while TrainingRun.objects.get(pk=run.pk).step != "rescore":
        assert outbox_drain(run_id=run.pk, limit=1, inline=True)
    MerchantFactory()  # flagged upstream while the chunks run: the next retraining's
    run = services.retrain_execute(run_id=run.pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
