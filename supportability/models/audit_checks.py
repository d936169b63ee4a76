"""What the audit trail's checks found: each verification of the chain against the
checkpoints, and each time the sealer refused to seal (supportability.audit)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditVerification(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "the hourly check"
        LEAD = "lead", "a lead"
        COMMAND = "command", "manage.py verify_audit"
        SEALER = "sealer", "the sealer, which refused to seal"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(default=timezone.now)
    intact = models.BooleanField()
    events = models.BigIntegerField(default=0)  # sealed events verified
    head_seq = models.BigIntegerField(default=0)
    unsealed = models.BigIntegerField(default=0)
    checkpoints = models.BigIntegerField(default=0)  # checkpoint records checked
    checkpoint_seq = models.BigIntegerField(null=True, blank=True)  # the latest one's
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    broken_kind = models.CharField(max_length=20, blank=True)
    broken_seq = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ("-finished_at", "-id")
        constraints: ClassVar = [
            models.CheckConstraint(
                name="auditverification_counts_non_negative",
                condition=Q(events__gte=0, head_seq__gte=0, unsealed__gte=0, checkpoints__gte=0),
            ),
            models.CheckConstraint(
                name="auditverification_broken_named",
                condition=Q(intact=True, broken_kind="") | Q(intact=False) & ~Q(broken_kind=""),
            ),
        ]

    def __str__(self) -> str:
        return f"audit verification {self.pk}: {'intact' if self.intact else self.broken_kind}"
