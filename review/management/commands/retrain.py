from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review import services
from supportability.models import TrainingRun

WIDTH = 30


class Command(BaseCommand):
    help = (
        "Retrain from the clean labels: snapshot, train and calibrate, evaluate against the"
        " champion, promote or hold, rescore, re-prioritise. Inline by default, with a"
        " progress bar; --async queues it for the workers and follows it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--async", dest="run_async", action="store_true")
        parser.add_argument("--no-wait", action="store_true", help="with --async: don't follow")

    def handle(self, *args: Any, run_async: bool, no_wait: bool, **options: Any) -> None:
        try:
            run = services.retrain_start(actor=None, enqueue=run_async)
        except services.RetrainBusy as exc:
            raise CommandError(str(exc)) from exc
        if run_async and no_wait:
            self.stdout.write(f"Queued retraining #{run.pk}; follow it on the lead page.")
            return
        if run_async:
            run = self._follow(run.pk)
        else:
            run = services.retrain_execute(run_id=run.pk, progress=self._bar)
        self.stdout.write("")
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f"Retraining #{run.pk} failed: {run.message}")
        style = (
            self.style.SUCCESS if run.status == TrainingRun.Status.SUCCEEDED else self.style.WARNING
        )
        self.stdout.write(style(f"Retraining #{run.pk} {run.status}: {run.message}"))

    def _bar(self, run: TrainingRun) -> None:
        done = int(WIDTH * run.progress / 100)
        bar = "#" * done + "-" * (WIDTH - done)
        self.stdout.write(f"\r[{bar}] {run.progress:3d}% {run.step:<12}", ending="")
        self.stdout.flush()

    def _follow(self, run_id: int) -> TrainingRun:
        while True:
            run = TrainingRun.objects.get(pk=run_id)
            self._bar(run)
            if not run.is_active:
                return run
            time.sleep(1)
