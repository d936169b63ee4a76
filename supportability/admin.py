from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    ApiToken,
    AuditEvent,
    Merchant,
    ModelVersion,
    PolicyCategory,
    PolicyVersion,
)


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name", "country", "mcc", "monthly_volume")
    search_fields = ("external_id", "name")


@admin.register(PolicyCategory)
class PolicyCategoryAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "parent", "severity", "assignable")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "effective_from", "is_current")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "status", "created_at")
    exclude = ("artifact",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "revoked_at")
    readonly_fields = ("prefix", "key_sha256", "user")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: audit events are never changed or deleted, not even by an admin."""

    list_display = ("created_at", "actor_label", "verb", "object_type", "object_id")
    list_filter = ("verb",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
