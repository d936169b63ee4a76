"""The policy taxonomy is data: a fixture of categories, plus the policy version in force.
Installed by a data migration; tests that flush the database reinstall it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "policy_categories.json"
FIRST_POLICY = "2026.1"


def taxonomy_install(category_model: Any, version_model: Any) -> None:
    """Create or update every category (by slug) and the first policy version. Takes the
    models as arguments so that a migration can pass its historical ones."""
    for record in json.loads(FIXTURE.read_text()):
        fields = dict(record["fields"])
        parent = fields.pop("parent")
        fields["parent"] = category_model.objects.get(slug=parent[0]) if parent else None
        category_model.objects.update_or_create(slug=fields.pop("slug"), defaults=fields)
    version_model.objects.get_or_create(
        version=FIRST_POLICY,
        defaults={
            "effective_from": datetime(2026, 1, 1, tzinfo=UTC),
            "notes": "Card-network and partner rules as of January 2026.",
            "is_current": True,
        },
    )
