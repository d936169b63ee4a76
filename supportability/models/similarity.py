"""The similar-decisions index: one row per build, pointing at its folder of arrays under
VAR_DIR (supportability.ml.similarity writes and reads them; services/similarity.py builds
and queries)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SimilarityIndex(models.Model):
    """An index of decided merchants, built by the retraining chain. The newest row is the one
    the review screen reads; its files are checked against `sha256` before they are used."""

    built_at = models.DateTimeField(default=timezone.now)
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # How many decided merchants it holds.
    size = models.PositiveIntegerField()
    # The vectoriser's settings (supportability.ml.similarity.SimilarityConfig).
    config = models.JSONField(default=dict, blank=True)
    # The folder of arrays, relative to VAR_DIR.
    location = models.CharField(max_length=300)
    # Of the files (supportability.ml.similarity.folder_sha256).
    sha256 = models.CharField(max_length=64)
    # Of the rows it was built from: the same rows are not built twice.
    source_sha256 = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ("-built_at", "-id")
        verbose_name_plural = "similarity indexes"
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(size__gt=0), name="similarity_index_not_empty"),
        ]

    def __str__(self) -> str:
        return f"similarity index {self.pk} ({self.size} merchants)"
