"""Clients for view and API tests: a logged-in browser session, or a bearer token."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def error_fields(response: Any) -> list[str]:
    """The fields an API error names (the `field` of each entry of its `errors`)."""
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}, body
    return [error["field"] for error in body["errors"]]
