"""Fixtures the review app's API tests share."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from supportability.services import token_create
from tests.clients import bearer


@pytest.fixture
def reader() -> APIClient:
    """A retraining job's client: a service token with `labels:read`."""
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    return bearer(secret)
