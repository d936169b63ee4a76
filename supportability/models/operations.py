"""Operational records: follow-up work waiting for the workers (the transactional outbox,
supportability.outbox) and stored rows that break the stored-value rules
(supportability.data_checks)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """Follow-up work, written in the same transaction as the change that causes it, for
    the relay to publish to Celery (supportability.outbox). The Celery message carries only
    this row's id; the task is idempotent on it."""

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned (its retraining was recovered as failed)"

    task = models.CharField(max_length=200)  # the Celery task's registered name
    kwargs = models.JSONField(default=dict, blank=True)
    # Written once: a second write of the same follow-up (a retried step) finds this one.
    key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Not published before this time; never when empty (a run executed inline by its
    # caller, manage.py retrain).
    available_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)
    publish_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("id",)
        indexes: ClassVar = [
            models.Index(fields=["id"], condition=Q(done_at__isnull=True), name="outbox_open"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(done_at__isnull=True, outcome="")
                | Q(done_at__isnull=False) & ~Q(outcome=""),
                name="outbox_done_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"outbox {self.pk}: {self.task}"


class DataIssue(models.Model):
    """A stored row that breaks a stored-value rule (supportability.validation): written
    before the rule existed, or by a path that bypassed it. Found by the migration that
    added the rules and by `manage.py data_check`; training, scoring and pages leave such
    rows out or show them as unavailable. Resolved when a later check no longer finds it."""

    model = models.CharField(max_length=64)  # app_label.model_name
    row_id = models.CharField(max_length=64)
    rule = models.CharField(max_length=100)
    detail = models.TextField()
    found_by = models.CharField(max_length=100)
    found_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-found_at", "-id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["model", "row_id", "rule"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_issue_per_row_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.row_id}: {self.rule}"
