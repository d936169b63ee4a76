"""Fixtures the review app's tests share."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from supportability.services import token_create
from tests.clients import bearer
from tests.factories import escalated_item


@pytest.fixture
def reader() -> APIClient:
    """A retraining job's client: a service token with `labels:read`."""
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    return bearer(secret)


@pytest.fixture
def pair(make_user):
    """Two analysts, ann and bob."""
    return [make_user("analyst", username="ann"), make_user("analyst", username="bob")]


@pytest.fixture
def disagreement(pair):
    """An item ann and bob labelled differently (restricted gambling vs supportable), with
    the leads; its merchant's name carries an XSS payload."""
    return escalated_item(
        pair,
        [("restricted", "gambling"), ("supportable", "none")],
        merchant__name="<script>alert(1)</script> Bets",
    )
