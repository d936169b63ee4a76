"""Fixtures the review app's tests share: API clients, a world with settled clean labels."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from review.seeding import demo_seed
from supportability.models import GroundTruth
from supportability.services import token_create
from tests.clients import bearer
from tests.factories import clean_labels_from_truth


@pytest.fixture
def reader() -> APIClient:
    """A retraining job's client: a service token with `labels:read`."""
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    return bearer(secret)


@pytest.fixture
def settled(monkeypatch):
    """The world with every merchant's clean label settled (the refresh, tested in
    test_clean_labels.py, would recompute them from labels: kept as they are here)."""
    import review.services.retraining as retraining

    # Larger than `world`: a fifth is held out, and PR-AUC over a handful of violators is
    # too noisy to rank two models.
    world = demo_seed(merchants=2_000, seed=11, history=False)
    monkeypatch.setattr(retraining, "clean_labels_refresh", lambda **kwargs: 0)
    clean_labels_from_truth(
        GroundTruth.objects.select_related("merchant").order_by("merchant__external_id")
    )
    return world
