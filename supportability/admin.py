"""The operator's window on the data: every model an operator looks up is registered,
and read-only, because every state change goes through a service that audits it (a write
here would bypass the service and its audit event). Secrets never show: an API token shows
its prefix, never its key's hash; a lease never shows its token (labeling/admin.py), and an
audit event's before and after show with lease tokens hidden."""

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

# Keys whose values are secrets or bearer handles (a lease's token is what lets its holder
# label the item), hidden wherever the admin shows stored JSON.
SECRET_KEYS = frozenset({"lease", "token", "lease_token", "key", "key_sha256", "secret"})


def redacted(value: Any) -> Any:
    """`value` (decoded JSON) with the values under SECRET_KEYS replaced, at any depth."""
    if isinstance(value, dict):
        return {
            k: ("(hidden)" if str(k).lower() in SECRET_KEYS else redacted(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


class ReadOnlyAdmin(admin.ModelAdmin):
    """Every state change goes through a service that audits it; the admin only looks."""

    list_per_page = 50

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
    list_display = ("name", "version", "status", "created_at", "promoted_at")
    list_filter = ("status",)
    search_fields = ("name", "version")
    exclude = ("artifact",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """A token shows its prefix (how an operator matches it to a client), never its hash."""

    list_display = ("name", "prefix", "user", "scopes", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    fields = ("name", "prefix", "user", "scopes", "created_at", "revoked_at")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Audit events are never changed or deleted, not even by an admin."""

    list_display = ("seq", "created_at", "actor_label", "verb", "object_type", "object_id")
    list_filter = ("verb", "object_type")
    search_fields = ("actor_label", "merchant__external_id", "object_id")
    fields = (
        "seq",
        "created_at",
        "actor_label",
        "verb",
        "object_type",
        "object_id",
        "merchant",
        "before_shown",
        "after_shown",
        "prev_hash",
        "hash",
    )

    @admin.display(description="before")
    def before_shown(self, event: AuditEvent) -> Any:
        return redacted(event.before)

    @admin.display(description="after")
    def after_shown(self, event: AuditEvent) -> Any:
        return redacted(event.after)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or ()


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
    list_display = (
        "id",
        "status",
        "step",
        "progress",
        "model_version",
        "requested_by",
        "attempt",
        "heartbeat_at",
        "created_at",
    )
    list_filter = ("status", "step")
    search_fields = ("requested_by__username", "model_version__version")
    list_select_related = ("model_version", "requested_by")
