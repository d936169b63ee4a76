from __future__ import annotations

from django.apps import AppConfig


class SupportabilityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "supportability"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers them)
