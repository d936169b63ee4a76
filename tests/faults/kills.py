"""Killing Celery workers mid-step during retrainings, and what must hold afterwards: the
kill scenario of the fault tests (tests/faults/test_worker_kills.py, CI) and of
bench/faults.py (100 kills)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tests.faults.harness import Process, say, wait_for

# The retraining steps a kill is aimed at, and the task that runs each.
KILL_STEPS = {
    "train": "review.tasks.retrain_train",
    "evaluate": "review.tasks.retrain_evaluate",
    "rescore": "review.tasks.rescore_chunk",
    "reprioritise": "review.tasks.retrain_reprioritise",
}


@dataclass
class KillReport:
    kills: int = 0
    mid_step: int = 0  # the step's message was still running when the kill landed
    whole_worker: int = 0  # the worker and its pool killed, then restarted
    whole_worker_mid_step: int = 0  # ... while the step ran (its run must be recovered)
    pool_process: int = 0  # only the process running the task killed
    recovered_as_failed: int = 0  # runs the recovery failed, then a lead retried
    runs: list[int] = field(default_factory=list)
    seconds_to_resume: list[float] = field(default_factory=list)


def _started(run_id: int, task: str) -> Any:
    from supportability.models import OutboxMessage

    return (
        OutboxMessage.objects.filter(run_id=run_id, task=task, started_at__isnull=False)
        .order_by("-id")
        .values_list("id", "done_at")
        .first()
    )


def kill_during(
    run_id: int, step: str, process: Process, *, whole: bool, report: KillReport
) -> bool:
    """Wait for the step's task to start on the worker, then kill -9 either the pool
    process running it or the whole worker. True when it landed mid-step."""
    task = KILL_STEPS[step]
    started = wait_for(lambda: _started(run_id, task), timeout=120, every=0.005, what=step)
    if whole:
        process.kill_all()
        report.whole_worker += 1
    else:
        for child in process.children():
            child.send_signal(signal.SIGKILL)
        report.pool_process += 1
    report.kills += 1
    from supportability.models import OutboxMessage

    mid = OutboxMessage.objects.filter(pk=started[0], done_at__isnull=True).exists()
    report.mid_step += int(mid)
    report.whole_worker_mid_step += int(mid and whole)
    return mid


def _wait_run(run_id: int, condition: Callable[[Any], bool], *, timeout: float, what: str) -> Any:
    from review import services
    from supportability.models import TrainingRun

    def check() -> Any:
        services.runs_recover()  # the harness plays the beat's 30-second tick
        run = TrainingRun.objects.get(pk=run_id)
        return run if condition(run) else None

    return wait_for(check, timeout=timeout, every=0.2, what=what)


def _step_over(run_id: int, step: str) -> bool:
    """The step ran to its end, or its run ended (held, failed)."""
    from supportability.models import OutboxMessage, TrainingRun

    done = OutboxMessage.objects.filter(
        run_id=run_id, task=KILL_STEPS[step], outcome=OutboxMessage.Outcome.DONE
    ).exists()
    return done or not TrainingRun.objects.get(pk=run_id).is_active


BEFORE_THE_GATE = ("queued", "snapshot", "train", "evaluate", "decide")


def retrain_through_kills(
    *,
    lead: Any,
    plan: list[tuple[str, bool]],
    report: KillReport,
    worker_process: Process,
    restart: Callable[[], Process],
    timeout: float = 180,
) -> tuple[list[Any], Process]:
    """One retraining (and, if the gate holds its candidate, the lead's promotion of it
    over the gate, so that rescoring and re-prioritisation run too), with a kill -9 aimed
    at each (step, whole worker?) of `plan`, in step order. After a whole-worker kill the
    worker is restarted; its run is recovered as failed once silent, then retried. Returns
    the runs it took and the worker now running."""
    from review import services
    from supportability.models import TrainingRun

    run = services.retrain_start(actor=lead)
    runs = [run]
    say(f"run {run.pk} started")
    for step, whole in plan:
        if step in ("rescore", "reprioritise") and run.step in (
            "queued",
            "snapshot",
            "train",
            "evaluate",
            "decide",
        ):
            run = _wait_run(
                run.pk,
                lambda r: (
                    r.step in ("rescore", "promote", "reprioritise", "done") or not r.is_active
                ),
                timeout=timeout,
                what=f"run {run.pk} past the gate",
            )
            if run.status == TrainingRun.Status.HELD:
                run = services.candidate_promote(actor=lead, model_version_id=run.model_version_id)
                runs.append(run)
                say(f"run {runs[-2].pk} held by the gate; a lead promotes it: run {run.pk}")
        started = time.monotonic()
        mid = kill_during(run.pk, step, worker_process, whole=whole, report=report)
        kind = "the whole worker" if whole else "the pool process"
        say(f"run {run.pk}: kill -9 of {kind} during {step} ({'mid-step' if mid else 'after it'})")
        if whole:
            worker_process = restart()
            failed = _wait_run(
                run.pk, lambda r: not r.is_active, timeout=timeout, what=f"run {run.pk} recovered"
            )
            if failed.status == TrainingRun.Status.FAILED:
                report.recovered_as_failed += 1
                say(f"run {run.pk} recovered as failed: {failed.message}")
                run = services.retrain_retry(actor=lead, run_id=run.pk)
                say(f"run {run.pk} retried (attempt {run.attempt})")
        wait_for(partial(_step_over, run.pk, step), timeout=timeout, what=f"{step} done")
        report.seconds_to_resume.append(time.monotonic() - started)
        run.refresh_from_db()
    run = _wait_run(run.pk, lambda r: not r.is_active, timeout=timeout, what=f"run {run.pk} ended")
    report.runs.extend(r.pk for r in runs)
    return runs, worker_process


def check_runs(runs: list[Any]) -> list[str]:
    """What must hold after any number of kills: each run finished (succeeded, or held by
    the gate; none stuck, none failed in the end), made at most one model version, a
    promoted one has exactly one score per scorable merchant, and there is exactly one
    champion."""
    from supportability.models import ModelVersion, OutboxMessage, Score, TrainingRun
    from supportability.services import merchants_scorable

    problems = []
    champions = ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).count()
    if champions != 1:
        problems.append(f"{champions} champions")
    scorable = merchants_scorable().count()
    ended = {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.HELD}
    for run in TrainingRun.objects.filter(pk__in=[r.pk for r in runs]):
        if run.holds_lock or run.is_active:
            problems.append(f"run {run.pk} is stuck: {run.status} at {run.step}")
        elif run.status not in ended:  # every failure was retried: each run must finish
            problems.append(f"run {run.pk} ended {run.status}: {run.message}")
        made = ModelVersion.objects.filter(version=f"run{run.pk}").count()
        if made > 1:
            problems.append(f"run {run.pk} made {made} model versions")
        if run.status == TrainingRun.Status.SUCCEEDED and run.model_version_id:
            scores = Score.objects.filter(model_version_id=run.model_version_id).count()
            if scores != scorable:
                problems.append(f"run {run.pk}: {scores} scores for {scorable} merchants")
        open_messages = OutboxMessage.objects.filter(run=run, done_at__isnull=True).count()
        if open_messages:
            problems.append(f"run {run.pk} left {open_messages} outbox messages open")
    return problems
