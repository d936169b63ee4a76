from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from review import services
from supportability.models import TrainingRun


class Command(BaseCommand):
    help = "Retrain from the labels collected so far (inline, or --async on the workers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--async", dest="run_async", action="store_true")

    def handle(self, *args: Any, run_async: bool, **options: Any) -> None:
        try:
            run = services.retrain_start(actor=None, enqueue=run_async)
        except services.RetrainBusy as exc:
            raise CommandError(str(exc)) from exc
        if run_async:
            self.stdout.write(f"Queued retraining #{run.pk}; follow it on the lead page.")
            return
        run = services.retrain_execute(run_id=run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Retraining #{run.pk} {run.status}: {run.message}")
        self.stdout.write(self.style.SUCCESS(f"Retraining #{run.pk}: {run.message}"))
