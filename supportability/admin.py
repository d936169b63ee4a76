from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    ApiToken,
    AuditEvent,
    DataIssue,
    Merchant,
    ModelVersion,
    OutboxMessage,
    PolicyCategory,
    PolicyVersion,
    TrainingRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Every state change goes through a service that audits it; the admin only looks."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Merchant)
class MerchantAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "name", "country", "mcc", "monthly_volume")
    search_fields = ("external_id", "name")


@admin.register(PolicyCategory)
class PolicyCategoryAdmin(ReadOnlyAdmin):
    list_display = ("slug", "name", "parent", "severity", "assignable")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "effective_from", "is_current")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "status", "created_at")
    exclude = ("artifact",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "revoked_at")
    readonly_fields = ("prefix", "key_sha256", "user")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Audit events are never changed or deleted, not even by an admin."""

    list_display = ("created_at", "actor_label", "verb", "object_type", "object_id")
    list_filter = ("verb",)


@admin.register(DataIssue)
class DataIssueAdmin(ReadOnlyAdmin):
    """Stored rows that break a stored-value rule (manage.py data_check)."""

    list_display = ("found_at", "model", "row_id", "rule", "detail", "resolved_at")
    list_filter = ("rule", "model")
    search_fields = ("row_id", "detail")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Follow-up work waiting for, or handed to, the workers (supportability.outbox)."""

    list_display = (
        "id",
        "task",
        "run",
        "created_at",
        "published_at",
        "publish_error",
        "started_at",
        "heartbeat_at",
        "deliveries",
        "done_at",
        "outcome",
    )
    list_filter = ("outcome", "task")


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "step", "progress", "attempt", "heartbeat_at", "created_at")
    list_filter = ("status",)
