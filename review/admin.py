"""Adjudications, QA audits, clean labels and re-reviews in the admin, read-only: each is
written by a service that checks it (four eyes, leases, consensus order) and audits it.
The lease a decision was made under is left out: its name carries the lease's token."""

from __future__ import annotations

from django.contrib import admin

from supportability.admin import ReadOnlyAdmin

from .models import Adjudication, CleanLabel, QaAudit, ReReview


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant",
        "decision",
        "category",
        "status",
        "lead",
        "signoff_by",
        "for_training",
        "created_at",
    )
    list_filter = ("status", "decision", "for_training", "requires_signoff", "category")
    search_fields = ("merchant__external_id", "merchant__name", "lead__username")
    list_select_related = ("merchant", "category", "lead", "signoff_by")
    exclude = ("lease",)
    raw_id_fields = ("item", "merchant", "upheld_label", "supersedes")


@admin.register(QaAudit)
class QaAuditAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant",
        "analyst",
        "status",
        "lead",
        "rate",
        "drawn_at",
        "decided_at",
    )
    list_filter = ("status",)
    search_fields = ("merchant__external_id", "merchant__name", "analyst__username")
    list_select_related = ("merchant", "analyst", "lead")
    exclude = ("lease",)
    raw_id_fields = ("label", "item", "merchant")


@admin.register(CleanLabel)
class CleanLabelAdmin(ReadOnlyAdmin):
    list_display = (
        "merchant",
        "decision",
        "category",
        "source",
        "confidence",
        "propensity",
        "for_training",
    )
    list_filter = ("source", "decision", "for_training", "category")
    search_fields = ("merchant__external_id", "merchant__name")
    list_select_related = ("merchant", "category")
    raw_id_fields = ("merchant",)


@admin.register(ReReview)
class ReReviewAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "merchant",
        "decision",
        "category_slug",
        "model_probability",
        "reason",
        "outcome",
    )
    list_filter = ("reason", "outcome")
    search_fields = ("merchant__external_id", "merchant__name")
    list_select_related = ("merchant",)
    raw_id_fields = ("item", "merchant")
