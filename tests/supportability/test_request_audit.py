"""A signed-in caller refused an object a URL names (403, 404) leaves one access.denied
event; an anonymous caller and an unknown URL leave none, and a failed audit write never
changes the answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient

from supportability.models import AuditEvent
from supportability.services import request_audit, token_create
from tests.clients import api_as, bearer, logged_in
from tests.factories import LeaseFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def denied() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb="access.denied").order_by("id"))


def test_an_analyst_opening_another_analysts_held_item_is_one_denied_event(analyst, make_user):
    other = make_user("analyst", username="otto")
    item_id = LeaseFactory.create(holder=other).item_id
    path = f"/lead/items/{item_id}/"

    response = logged_in(analyst).get(path)

    assert response.status_code == 403
    [event] = denied()
    assert (event.actor_id, event.actor_label) == (analyst.pk, "ana")
    assert (event.object_type, event.object_id) == ("labeling.reviewitem", str(item_id))
    assert event.after == {
        "method": "GET",
        "path": path,
        "route": "review:item",
        "via": "session",
        "status": 403,
        "kwargs": {"item_id": str(item_id)},
    }


def test_a_merchant_closed_to_analysts_is_a_denied_404(analyst):
    merchant = MerchantFactory()  # undecided: its timeline is the leads' alone
    response = logged_in(analyst).get(f"/lead/merchants/{merchant.pk}/")
    assert response.status_code == 404
    [event] = denied()
    assert (event.object_type, event.object_id) == ("supportability.merchant", str(merchant.pk))
    assert event.after["route"] == "review:merchant"
    assert event.after["status"] == 404


def test_a_missing_snapshot_asked_for_with_a_token_names_the_token(lead):
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    response = bearer(secret).get("/api/v1/snapshots/424242/rows")
    assert response.status_code == 404
    [event] = denied()
    assert event.actor_label == "svc-trainer"
    assert (event.object_type, event.object_id) == ("supportability.labelsnapshot", "424242")
    assert event.after["via"] == "token:trainer"
    assert event.after["route"] == "api-snapshot-rows"


def test_a_token_without_the_scope_is_denied_on_an_item(analyst):
    item_id = LeaseFactory.create(holder=analyst).item_id
    _, secret = token_create(name="reader", scopes=["labels:read"])
    response = bearer(secret).post(f"/api/v1/items/{item_id}/heartbeat/", {}, format="json")
    assert response.status_code == 403
    [event] = denied()
    assert event.after["via"] == "token:reader"
    assert event.after["method"] == "POST"
    assert event.object_id == str(item_id)


def test_anonymous_callers_leave_no_denied_event():
    item_id = LeaseFactory.create().item_id
    assert APIClient().post(f"/api/v1/items/{item_id}/heartbeat/").status_code == 401
    assert Client().get(f"/lead/items/{item_id}/").status_code == 302  # to the login page
    assert bearer("sr_made-up").get("/api/v1/snapshots/1/").status_code == 401
    assert denied() == []


def test_unknown_urls_and_routes_without_an_object_leave_no_denied_event(analyst, lead):
    assert logged_in(analyst).get("/lead/items/12/nowhere/").status_code == 404
    assert logged_in(analyst).get("/api/v1/nothing-here/").status_code == 404
    assert logged_in(analyst).get("/lead/audit/").status_code == 403  # names no object
    assert api_as(lead).get("/api/v1/labels/", {"cursor": "not-a-cursor"}).status_code == 404
    assert denied() == []


def test_an_allowed_request_leaves_no_denied_event(analyst):
    lease = LeaseFactory.create(holder=analyst)
    response = api_as(analyst).post(
        f"/api/v1/items/{lease.item_id}/heartbeat/", {"lease": str(lease.token)}, format="json"
    )
    assert response.status_code == 200
    assert denied() == []


def test_a_failed_audit_write_keeps_the_refusal(analyst, monkeypatch):
    def unavailable(**fields: Any) -> AuditEvent:
        raise OperationalError("database is locked")

    monkeypatch.setattr(request_audit, "audit_record", unavailable)
    item_id = LeaseFactory.create().item_id
    assert logged_in(analyst).get(f"/lead/items/{item_id}/").status_code == 403
    assert denied() == []
