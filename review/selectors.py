"""Reads for the lead's screens."""

from __future__ import annotations

from django.db.models import QuerySet

from supportability.models import AuditEvent, ModelVersion, TrainingRun


def audit_recent(*, limit: int = 30) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor", "merchant").order_by("-id")[:limit]


def models_recent(*, limit: int = 10) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.exclude(status=ModelVersion.Status.EXTERNAL).defer("artifact")[
        :limit
    ]


def run_latest() -> TrainingRun | None:
    return TrainingRun.objects.select_related("model_version").order_by("-id").first()
