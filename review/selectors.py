"""Reads for the lead's screens."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from labeling.models import Label
from supportability.models import AuditEvent, ModelVersion, TrainingRun


def audit_recent(*, limit: int = 30) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor", "merchant").order_by("-id")[:limit]


def models_recent(*, limit: int = 10) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.exclude(status=ModelVersion.Status.EXTERNAL).defer("artifact")[
        :limit
    ]


def run_latest() -> TrainingRun | None:
    return TrainingRun.objects.select_related("model_version").order_by("-id").first()


@dataclass(frozen=True)
class GoldAccuracy:
    analyst: str
    answered: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


def gold_accuracy() -> list[GoldAccuracy]:
    """Each analyst's record on gold items, worst first."""
    rows = (
        Label.objects.filter(gold_correct__isnull=False)
        .values("analyst__username")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
        .order_by("analyst__username")
    )
    records = [GoldAccuracy(r["analyst__username"], r["answered"], r["correct"]) for r in rows]
    return sorted(records, key=lambda r: (r.accuracy, r.analyst))
