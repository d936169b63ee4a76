"""The transactional outbox: a message exists if and only if its change committed, runs
once however often it is delivered, and survives a broker that refuses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from supportability import outbox
from supportability.celery import app
from supportability.models import OutboxMessage

pytestmark = pytest.mark.django_db
CALLS: list[dict] = []


@outbox.outbox_task(on_failure=lambda kwargs, error: CALLS.append({"failed": error}))
def record(**kwargs):
    if kwargs.get("boom") == "transient":
        raise OperationalError("connection lost")
    if kwargs.get("boom"):
        raise ValueError("bad row")
    CALLS.append(kwargs)


TASK = f"{__name__}.record"


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


@pytest.fixture
def queued(celery_not_eager):
    """Messages wait for a relay, as in production."""


def _write(**kwargs) -> OutboxMessage:
    with transaction.atomic():
        return outbox.outbox_write(task=TASK, kwargs=kwargs)


@pytest.mark.django_db(transaction=True)
def test_a_message_is_written_only_inside_its_change(queued):
    with pytest.raises(RuntimeError):
        outbox.outbox_write(task=TASK)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox.outbox_write(task=TASK, kwargs={"n": 1})
        1 / 0  # noqa: B018 (the change fails: its message goes with it)
    assert not OutboxMessage.objects.exists()


def test_a_keyed_message_is_written_once(queued):
    with transaction.atomic():
        first = outbox.outbox_write(task=TASK, key="step:1")
        again = outbox.outbox_write(task=TASK, key="step:1")
    assert first.pk == again.pk and OutboxMessage.objects.count() == 1


def test_a_message_runs_once_however_often_it_is_delivered(queued):
    message = _write(n=1)
    assert outbox.outbox_process(message.pk) == outbox.RAN
    assert outbox.outbox_process(message.pk) == outbox.FINISHED  # a redelivery
    message.refresh_from_db()
    assert CALLS == [{"n": 1}]
    assert message.outcome == "done" and message.deliveries == 1


def test_a_redelivery_waits_while_the_holder_heartbeats_then_takes_over(queued, settings):
    message = _write(n=2)
    now = timezone.now()
    OutboxMessage.objects.filter(pk=message.pk).update(started_at=now, heartbeat_at=now)
    assert outbox.outbox_process(message.pk) == outbox.BUSY
    assert CALLS == []
    silent = now - timedelta(seconds=settings.OUTBOX_TAKEOVER_SECONDS + 1)
    OutboxMessage.objects.filter(pk=message.pk).update(heartbeat_at=silent)
    assert outbox.outbox_process(message.pk) == outbox.RAN  # the holder died: take over
    assert CALLS == [{"n": 2}]


def test_a_failing_task_is_closed_as_failed_and_reported(queued):
    message = _write(boom="yes")
    with pytest.raises(ValueError):
        outbox.outbox_process(message.pk)
    message.refresh_from_db()
    assert message.outcome == "failed" and "bad row" in message.error
    assert CALLS == [{"failed": "ValueError: bad row"}]


def test_a_transient_error_leaves_the_message_open_for_a_retry(queued):
    message = _write(boom="transient")
    with pytest.raises(OperationalError):
        outbox.outbox_process(message.pk)
    message.refresh_from_db()
    assert message.done_at is None and message.heartbeat_at is None
    with pytest.raises(OperationalError):  # the retry takes it at once (and fails again)
        outbox.outbox_process(message.pk)
    message.refresh_from_db()
    assert message.deliveries == 2 and message.done_at is None


def test_the_relay_publishes_each_message_once(queued, monkeypatch):
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append((name, args)))
    first, second = _write(n=1), _write(n=2)
    result = outbox.outbox_relay()
    assert result.published == 2 and result.pending == 0
    assert sent == [(TASK, [first.pk]), (TASK, [second.pk])]
    assert outbox.outbox_relay().published == 0  # published, not yet started: not again
    first.refresh_from_db()
    assert first.published_at is not None and first.publish_attempts == 1


def test_a_broker_that_is_down_keeps_messages_for_the_next_tick(queued, monkeypatch):
    def refuse(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    message = _write(n=3)
    monkeypatch.setattr(app, "send_task", refuse)
    result = outbox.outbox_relay()
    assert result.published == 0 and result.pending == 1 and "Connection refused" in result.error
    message.refresh_from_db()
    assert message.published_at is None and "Connection refused" in message.publish_error
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append(args))
    assert outbox.outbox_relay().published == 1  # the broker is back
    assert sent == [[message.pk]]


def test_a_message_lost_by_the_broker_is_published_again(queued, monkeypatch, settings):
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append(args))
    message = _write(n=4)
    outbox.outbox_relay()
    long_ago = timezone.now() - timedelta(seconds=settings.OUTBOX_REPUBLISH_SECONDS + 1)
    OutboxMessage.objects.filter(pk=message.pk).update(published_at=long_ago)
    outbox.outbox_relay()
    assert sent == [[message.pk], [message.pk]]


def test_in_eager_mode_messages_run_when_their_change_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.outbox_write(task=TASK, kwargs={"n": 5})
        assert CALLS == []  # not before the commit
    assert CALLS == [{"n": 5}]


def test_a_message_whose_every_delivery_died_is_failed_not_tried_for_ever(queued, settings):
    message = _write(n=6)
    silent = timezone.now() - timedelta(seconds=settings.OUTBOX_TAKEOVER_SECONDS + 1)
    OutboxMessage.objects.filter(pk=message.pk).update(
        started_at=silent, heartbeat_at=silent, deliveries=outbox.MAX_DELIVERIES
    )
    assert outbox.outbox_process(message.pk) == outbox.GAVE_UP
    message.refresh_from_db()
    assert message.outcome == "failed" and "never finished" in message.error
    assert [{"failed": message.error}] == CALLS  # its run (if any) is failed with the reason


def test_a_task_whose_worker_died_is_published_again_once_not_every_tick(
    queued, monkeypatch, settings
):
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **kw: sent.append(args))
    message = _write(n=7)
    outbox.outbox_relay()
    dead = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 1)
    OutboxMessage.objects.filter(pk=message.pk).update(
        started_at=dead, heartbeat_at=dead, published_at=dead
    )
    outbox.outbox_relay()
    outbox.outbox_relay()  # the next tick: just published, not again
    assert sent == [[message.pk], [message.pk]]
