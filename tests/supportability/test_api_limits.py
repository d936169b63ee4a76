"""The API's own limits: the schema and docs need a signed-in user or a token, and each
token and each person has a request budget, past which the API answers 429 with
Retry-After in the one error shape."""

from __future__ import annotations

import pytest
from django.test import Client

from supportability.api.throttles import TokenRateThrottle, UserRateThrottle
from supportability.services import token_create
from tests.clients import api_as, bearer, logged_in

pytestmark = pytest.mark.django_db


def test_the_schema_needs_a_user_or_a_token(analyst):
    anonymous = Client().get("/api/schema/?format=json")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    _, secret = token_create(name="reader", scopes=["labels:read"])
    assert bearer(secret).get("/api/schema/?format=json").status_code == 200
    assert logged_in(analyst).get("/api/schema/?format=json").status_code == 200


def test_the_docs_page_sends_an_anonymous_visitor_to_log_in(analyst):
    response = Client().get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert logged_in(analyst).get("/api/docs/").status_code == 200


def test_a_token_past_its_rate_gets_429_with_retry_after(monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "rate", "3/min", raising=False)
    _, secret = token_create(name="busy", scopes=["labels:read"])
    _, other = token_create(name="quiet", scopes=["labels:read"])
    client = bearer(secret)
    assert [client.get("/api/v1/labels/").status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/v1/labels/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled"
    # Each token has its own budget.
    assert bearer(other).get("/api/v1/labels/").status_code == 200


def test_a_person_past_their_rate_gets_429_and_a_colleague_does_not(monkeypatch, lead, make_user):
    monkeypatch.setattr(UserRateThrottle, "rate", "2/min", raising=False)
    client = api_as(lead)
    assert [client.get("/api/v1/labels/").status_code for _ in range(2)] == [200, 200]
    assert client.get("/api/v1/labels/").status_code == 429
    assert api_as(make_user("lead", username="lee")).get("/api/v1/labels/").status_code == 200
