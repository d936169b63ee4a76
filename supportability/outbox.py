"""The transactional outbox: follow-up work is a row (OutboxMessage) written in the same
transaction as the change that causes it, a relay publishes the rows to Celery, and each
task is idempotent on its row's id. A request never talks to the broker, so it never
waits on it or fails with it; work it accepted survives a broker outage and runs once the
broker is back.

A message's life:

    written -> published -> started -> done (outcome: done, failed, abandoned)

- The relay (`outbox_relay`: a Celery beat task, `manage.py relay_outbox [--loop]`, a
  catch-up when a worker starts, and the worker itself right after a task that wrote
  follow-ups) publishes messages never published, and republishes those published but not
  started within OUTBOX_REPUBLISH_SECONDS (lost in a broker restart; a duplicate is
  harmless, see below), and non-retraining messages whose worker stopped heartbeating. A
  broker error stops the pass and is kept on the message (`publish_error`).
- A worker takes a message (`outbox_process`) only if it is not done and nobody holds it:
  a holder heartbeats every OUTBOX_HEARTBEAT_SECONDS, and another delivery takes over only
  once that heartbeat is OUTBOX_TAKEOVER_SECONDS old (Celery redelivers at once when a
  worker process is killed; the redelivery waits out the dead one's last heartbeat). So a
  duplicate or redelivered message never runs its task twice at once, and a message done
  is never run again. The services the tasks call check state as well, so a task killed
  after its work committed but before the message was marked done finds nothing to do.
- A retraining's messages belong to its run: a run whose running step has been silent
  for RUN_STALE_SECONDS is recovered as failed by the retraining's own recovery
  (review.services.retraining.runs_recover), which closes its messages as abandoned; a
  lead can retry it.

In eager mode (tests, no broker) there is no relay process: messages run in this process
when the transaction that wrote them commits (`outbox_drain`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from .models import OutboxMessage, TrainingRun

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)
# What a broker that is down or unreachable raises on publish (kombu wraps the transport's
# own errors in KombuError's OperationalError; a refused socket can surface as OSError).
BROKER_DOWN = (KombuError, OSError)


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def heartbeat_every() -> timedelta:
    return _seconds("OUTBOX_HEARTBEAT_SECONDS", 10)


def takeover_after() -> timedelta:
    return _seconds("OUTBOX_TAKEOVER_SECONDS", 30)


def republish_after() -> timedelta:
    return _seconds("OUTBOX_REPUBLISH_SECONDS", 300)


def run_stale_after() -> timedelta:
    return _seconds("RUN_STALE_SECONDS", 120)


def _eager() -> bool:
    from .celery import app

    return bool(app.conf.task_always_eager)


# --- writing ----------------------------------------------------------------------------


def outbox_write(
    *,
    task: str,
    kwargs: dict[str, Any] | None = None,
    key: str | None = None,
    run: TrainingRun | None = None,
) -> OutboxMessage:
    """Write a follow-up for the relay, inside the caller's transaction (which must be
    open: the message exists if and only if the change that causes it commits). A message
    with a `key` is written once: the same key again returns the first."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_write must run inside the transaction of its change")
    if key is not None:
        existing = OutboxMessage.objects.filter(key=key).first()
        if existing is not None:
            return existing
    # A run its caller executes inline (no available_at: never published) keeps its
    # follow-ups inline too.
    inline = (
        run is not None
        and run.outbox.filter(available_at__isnull=True, done_at__isnull=True).exists()
    )
    message = OutboxMessage.objects.create(
        task=task,
        kwargs=kwargs or {},
        key=key,
        run=run,
        available_at=None if inline else timezone.now(),
    )
    if _eager():
        transaction.on_commit(outbox_drain)
    return message


# --- tasks ------------------------------------------------------------------------------

Handler = Callable[..., Any]
FailureHook = Callable[[dict[str, Any], str], None]


@dataclass(frozen=True)
class Registered:
    handler: Handler
    on_failure: FailureHook | None


HANDLERS: dict[str, Registered] = {}


def outbox_task(
    *, on_failure: FailureHook | None = None, **options: Any
) -> Callable[[Handler], Any]:
    """Make `handler(**kwargs)` the body of a Celery task named after it (module.name) that
    takes an outbox message id. `on_failure(kwargs, error)` runs when the handler raises
    anything but a transient database error (those are retried with backoff)."""

    def decorator(handler: Handler) -> Any:
        name = f"{handler.__module__}.{handler.__name__}"
        HANDLERS[name] = Registered(handler, on_failure)
        defaults = {
            "acks_late": True,
            "reject_on_worker_lost": True,
            "autoretry_for": TRANSIENT,
            "retry_backoff": 5,
            "max_retries": 5,
        }

        @shared_task(name=name, bind=True, **(defaults | options))
        def task(self: Any, message_id: int) -> str:
            outcome = outbox_process(message_id)
            if outcome == BUSY:
                # Another delivery holds it: come back once its heartbeat may have lapsed.
                raise self.retry(
                    countdown=takeover_after().total_seconds(), max_retries=20, exc=None
                )
            if outcome == RAN:
                outbox_relay()  # publish what the task wrote at once, not at the next tick
            return outcome

        task.__doc__ = handler.__doc__
        return task

    return decorator


def _registered(name: str) -> Registered:
    if name not in HANDLERS:
        importlib.import_module(name.rsplit(".", 1)[0])  # the tasks module registers it
    return HANDLERS[name]


RAN, BUSY, FINISHED, MISSING, GAVE_UP = "ran", "busy", "finished already", "missing", "gave up"
# A message whose every delivery died with its worker (an out-of-memory kill, say) is not
# tried for ever: after this many it is failed, with the reason.
MAX_DELIVERIES = 3


def _claim(message_id: int) -> OutboxMessage | str:
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            return MISSING
        if message.done_at is not None:
            return FINISHED
        beat = message.heartbeat_at
        if message.started_at is not None and beat is not None and beat > now - takeover_after():
            return BUSY
        message.started_at = message.heartbeat_at = now
        message.deliveries += 1
        message.save(update_fields=["started_at", "heartbeat_at", "deliveries"])
        if message.run_id is not None:
            TrainingRun.objects.filter(pk=message.run_id).update(heartbeat_at=now)
    return message


def _close(message_id: int, *, outcome: str, error: str = "") -> None:
    OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(
        done_at=timezone.now(), outcome=outcome, error=error[:4_000]
    )


def outbox_process(message_id: int) -> str:
    """Run one message's task in this process, if nobody else holds it and it is not done:
    RAN, BUSY (another delivery is alive: try later), FINISHED, MISSING, or GAVE_UP (its
    earlier deliveries all died: failed)."""
    message = _claim(message_id)
    if isinstance(message, str):
        return message
    registered = _registered(message.task)
    if message.deliveries > MAX_DELIVERIES:
        error = (
            f"Started {MAX_DELIVERIES} times and never finished: the worker running it died"
            " each time (out of memory, or killed)."
        )
        _close(message_id, outcome=OutboxMessage.Outcome.FAILED, error=error)
        if registered.on_failure is not None:
            registered.on_failure(message.kwargs, error)
        return GAVE_UP
    try:
        with _heartbeat(message):
            registered.handler(**message.kwargs)
    except TRANSIENT:
        # Let the retry (or the next delivery) take it at once.
        OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(heartbeat_at=None)
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        _close(message_id, outcome=OutboxMessage.Outcome.FAILED, error=error)
        if registered.on_failure is not None:
            registered.on_failure(message.kwargs, error)
        raise
    _close(message_id, outcome=OutboxMessage.Outcome.DONE)
    return RAN


@contextmanager
def _heartbeat(message: OutboxMessage) -> Iterator[None]:
    """While the task runs, a thread marks the message (and its retraining) alive. Off in
    eager mode: tests run on an in-memory database that another thread cannot see."""
    if _eager() or not getattr(settings, "OUTBOX_HEARTBEAT_THREAD", True):
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(heartbeat_every().total_seconds()):
                now = timezone.now()
                try:
                    OutboxMessage.objects.filter(pk=message.pk, done_at__isnull=True).update(
                        heartbeat_at=now
                    )
                    if message.run_id is not None:
                        TrainingRun.objects.filter(pk=message.run_id).update(heartbeat_at=now)
                except TRANSIENT:
                    # A dropped connection or a busy SQLite: try again at the next beat on a
                    # fresh connection (a heartbeat that stopped for good would get a task
                    # that is still running recovered as dead).
                    log.warning("outbox %s: heartbeat failed; retrying", message.pk)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"outbox-heartbeat-{message.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


# --- relaying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayResult:
    published: int
    pending: int  # still waiting for publication (the broker refused, or not yet due)
    error: str = ""


def _due(now: Any) -> Q:
    never = Q(published_at__isnull=True)
    lost = Q(started_at__isnull=True, published_at__lt=now - republish_after())
    # A non-retraining task whose worker died (its heartbeat stale), or whose transient
    # failures outlasted its retries (its heartbeat cleared): publish it again, at most once
    # per takeover period (retraining steps are recovered with their run instead).
    silent = Q(heartbeat_at__lt=now - run_stale_after()) | Q(heartbeat_at__isnull=True)
    orphaned = (
        Q(run__isnull=True, started_at__isnull=False, published_at__lt=now - takeover_after())
        & silent
    )
    return Q(done_at__isnull=True, available_at__lte=now) & (never | lost | orphaned)


def outbox_relay(*, limit: int = 500) -> RelayResult:
    """Publish what is due, oldest first. Each message is claimed by a conditional update
    before it is sent, so two relays never publish the same one; the broker is called
    outside any transaction. Stops at the first broker error (it is down: the rest waits)."""
    if _eager():
        outbox_drain()
        return RelayResult(published=0, pending=0)
    from .celery import app

    now = timezone.now()
    due = OutboxMessage.objects.filter(_due(now)).order_by("id").values_list("id", "task")
    # The transport's own connection errors too (a socket that broke under an established
    # connection can surface as the client library's error, not kombu's).
    with app.connection_for_write() as broker:
        refused = BROKER_DOWN + tuple(broker.connection_errors) + tuple(broker.channel_errors)
    published, error = 0, ""
    for message_id, task in list(due[:limit]):
        claimed = OutboxMessage.objects.filter(_due(now), pk=message_id).update(
            published_at=timezone.now(), publish_error=""
        )
        if not claimed:
            continue  # another relay took it
        try:
            app.send_task(task, args=[message_id], retry=False)
        except refused as exc:
            error = f"{type(exc).__name__}: {exc}"
            OutboxMessage.objects.filter(pk=message_id).update(
                published_at=None,
                publish_error=error[:1_000],
                publish_attempts=F("publish_attempts") + 1,
            )
            log.warning("outbox relay: the broker refused message %s: %s", message_id, error)
            break
        OutboxMessage.objects.filter(pk=message_id).update(
            publish_attempts=F("publish_attempts") + 1
        )
        published += 1
    pending = OutboxMessage.objects.filter(done_at__isnull=True, published_at__isnull=True).count()
    return RelayResult(published=published, pending=pending, error=error)


_draining = threading.local()


def outbox_drain(*, run_id: int | None = None, limit: int = 10_000, inline: bool = False) -> int:
    """Run due messages in this process, oldest first, until none is left (the messages
    they write included): eager mode's relay, and, with `inline`, a run its caller
    executes itself (`manage.py retrain`: only that run's messages, which the relay never
    publishes). Re-entrant calls return at once; the outer loop picks up what they would
    have run. Returns how many ran."""
    if getattr(_draining, "active", False):
        return 0
    _draining.active = True
    ran = 0
    try:
        skip: set[int] = set()
        while ran < limit:
            available = (
                Q(available_at__isnull=True) if inline else Q(available_at__lte=timezone.now())
            )
            pending = OutboxMessage.objects.filter(available, done_at__isnull=True).exclude(
                pk__in=skip
            )
            if run_id is not None:
                pending = pending.filter(run_id=run_id)
            message_id = pending.order_by("id").values_list("id", flat=True).first()
            if message_id is None:
                return ran
            if outbox_process(message_id) == RAN:
                ran += 1
            else:
                skip.add(message_id)
        return ran
    finally:
        _draining.active = False
