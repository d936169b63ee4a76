from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportability.ml.taxonomy import (
    PROHIBITED_CATEGORIES,
    RESTRICTED_CATEGORIES,
    decision_for_category,
)

FIXTURE = Path(__file__).resolve().parents[2] / "supportability/fixtures/policy_categories.json"


@pytest.mark.parametrize("slug", PROHIBITED_CATEGORIES)
def test_prohibited_categories_imply_prohibited(slug: str) -> None:
    assert decision_for_category(slug) == "prohibited"


@pytest.mark.parametrize("slug", RESTRICTED_CATEGORIES)
def test_restricted_categories_imply_restricted(slug: str) -> None:
    assert decision_for_category(slug) == "restricted"


def test_none_means_supportable() -> None:
    assert decision_for_category("none") == "supportable"


def test_unknown_slug_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown policy category"):
        decision_for_category("fireworks")


@pytest.mark.skipif(not FIXTURE.exists(), reason="the Django fixture is not there")
def test_taxonomy_matches_the_django_fixture() -> None:
    rows = [row["fields"] for row in json.loads(FIXTURE.read_text())]
    assignable = {row["slug"]: row["severity"] for row in rows if row["assignable"]}
    assert set(assignable) == {"none", *PROHIBITED_CATEGORIES, *RESTRICTED_CATEGORIES}
    for slug, severity in assignable.items():
        expected = "supportable" if severity == "none" else severity
        assert decision_for_category(slug) == expected
