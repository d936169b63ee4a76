from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import Label, Lease
from supportability.services import token_create
from tests.clients import api_as, bearer, error_fields
from tests.factories import ReviewItemFactory

pytestmark = pytest.mark.django_db


def _body(lease_token: str, **overrides) -> dict:
    body = {
        "lease": lease_token,
        "decision": "prohibited",
        "category": "pseudo-pharmaceuticals",
        "rationale": "Unapproved peptides marketed for injection.",
        "idempotency_key": "key-1",
    }
    body.update(overrides)
    return body


def test_claim_returns_item_with_merchant_score_and_lease(analyst):
    item = ReviewItemFactory(merchant__name="<script>alert(1)</script> Labs")
    response = api_as(analyst).post("/api/v1/queue/claim/")
    assert response.status_code == 200
    body = response.json()
    assert body["item"]["id"] == item.pk
    assert body["item"]["merchant"]["name"] == "<script>alert(1)</script> Labs"
    assert body["score"]["probability"] == pytest.approx(0.8)
    assert body["lease"]["token"] == str(Lease.objects.get().token)


def test_claim_on_empty_queue_is_204(analyst):
    assert api_as(analyst).post("/api/v1/queue/claim/").status_code == 204


def test_label_then_repeat_is_201_then_200_with_one_label(analyst):
    item = ReviewItemFactory()
    client = api_as(analyst)
    token = client.post("/api/v1/queue/claim/").json()["lease"]["token"]
    first = client.post(f"/api/v1/items/{item.pk}/labels/", _body(token), format="json")
    again = client.post(f"/api/v1/items/{item.pk}/labels/", _body(token), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["analyst"] == analyst.username
    assert Label.objects.count() == 1


def test_label_with_stale_lease_is_409(analyst):
    item = ReviewItemFactory()
    client = api_as(analyst)
    token = client.post("/api/v1/queue/claim/").json()["lease"]["token"]
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=5))
    response = client.post(f"/api/v1/items/{item.pk}/labels/", _body(token), format="json")
    assert response.status_code == 409
    assert "expired" in response.json()["detail"]
    assert not Label.objects.exists()


def test_label_with_someone_elses_lease_is_409(make_user):
    item = ReviewItemFactory()
    token = api_as(make_user(username="x")).post("/api/v1/queue/claim/").json()["lease"]["token"]
    response = api_as(make_user(username="y")).post(
        f"/api/v1/items/{item.pk}/labels/", _body(token), format="json"
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"lease": "not-a-uuid"}, "lease"),
        ({"rationale": ""}, "rationale"),
        ({"category": "none"}, "category"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_label_is_400_naming_the_field(analyst, overrides, field):
    item = ReviewItemFactory()
    client = api_as(analyst)
    token = client.post("/api/v1/queue/claim/").json()["lease"]["token"]
    response = client.post(
        f"/api/v1/items/{item.pk}/labels/", _body(token, **overrides), format="json"
    )
    assert response.status_code == 400
    assert field in error_fields(response)
    assert not Label.objects.exists()


def test_label_feed_is_cursor_paginated_for_leads_and_token_readers(analyst, lead):
    client = api_as(analyst)
    for i in range(3):
        item = ReviewItemFactory()
        token = client.post("/api/v1/queue/claim/").json()["lease"]["token"]
        client.post(
            f"/api/v1/items/{item.pk}/labels/", _body(token, idempotency_key=f"k{i}"), format="json"
        )
    page = api_as(lead).get("/api/v1/labels/?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api_as(lead).get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    reader = bearer(secret)
    assert len(reader.get("/api/v1/labels/").json()["results"]) == 3


def test_role_and_scope_matrix(analyst, lead, make_user):
    anonymous = APIClient()
    service = api_as(make_user("service", username="svc"))
    assert anonymous.post("/api/v1/queue/claim/").status_code in (401, 403)
    assert service.post("/api/v1/queue/claim/").status_code == 403
    assert api_as(analyst).get("/api/v1/labels/").status_code == 403
    assert api_as(lead).post("/api/v1/queue/claim/").status_code == 204
    _, secret = token_create(name="flags-only", scopes=["flags:write"])
    flags_only = bearer(secret)
    assert flags_only.post("/api/v1/queue/claim/").status_code == 403
    assert flags_only.get("/api/v1/labels/").status_code == 403


def test_openapi_schema_lists_the_endpoints(analyst):
    response = api_as(analyst).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/flags/",
        "/api/v1/queue/claim/",
        "/api/v1/items/{item_id}/labels/",
        "/api/v1/items/{item_id}/heartbeat/",
        "/api/v1/items/{item_id}/release/",
        "/api/v1/labels/",
    ):
        assert path in paths


def test_token_scopes_never_lend_a_role(analyst, lead):
    ReviewItemFactory()
    _, own = token_create(name="ana-cli", scopes=["queue:work"], user=analyst)
    client = bearer(own)
    assert client.post("/api/v1/queue/claim/").status_code == 200
    _, lead_flags = token_create(name="lead-flags", scopes=["flags:write"], user=lead)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {lead_flags}")
    assert client.post("/api/v1/flags/", [], format="json").status_code == 403


def test_token_cannot_take_over_an_existing_account(make_user):
    make_user("analyst", username="svc-mallory")
    with pytest.raises(ValueError, match="exists already"):
        token_create(name="mallory", scopes=["flags:write"])


def test_heartbeat_and_release_endpoints(analyst):
    item = ReviewItemFactory()
    client = api_as(analyst)
    token = client.post("/api/v1/queue/claim/").json()["lease"]["token"]
    beat = client.post(f"/api/v1/items/{item.pk}/heartbeat/", {"lease": token}, format="json")
    assert beat.status_code == 200 and beat.json()["token"] == token
    released = client.post(f"/api/v1/items/{item.pk}/release/", {"lease": token}, format="json")
    assert released.status_code == 204
    again = client.post(f"/api/v1/items/{item.pk}/release/", {"lease": token}, format="json")
    assert again.status_code == 409 and "released" in again.json()["detail"]


def _flag(model_name: str) -> dict:
    return {
        "merchant": {"external_id": "X1", "name": "X", "country": "US", "mcc": "5999"},
        "model": {"name": model_name, "version": "1"},
        "score": 0.5,
    }


def test_upstream_cannot_write_scores_into_our_own_models():
    from supportability.models import ModelVersion

    ModelVersion.objects.create(name="supportability-demo", version="1", status="champion")
    _, secret = token_create(name="up", scopes=["flags:write"])
    client = bearer(secret)
    response = client.post("/api/v1/flags/", [_flag("supportability-demo")], format="json")
    assert response.status_code == 400 and "model" in error_fields(response)


def test_a_batch_that_contradicts_itself_is_refused():
    _, secret = token_create(name="up2", scopes=["flags:write"])
    client = bearer(secret)
    row = _flag("up")
    renamed = {**row, "merchant": {**row["merchant"], "name": "Other"}, "score": 0.6}
    response = client.post("/api/v1/flags/", [row, renamed], format="json")
    assert response.status_code == 400
    assert "[1].merchant.external_id" in error_fields(response)


def test_an_absurd_item_id_is_404_not_500(analyst):
    response = api_as(analyst).post(
        "/api/v1/items/99999999999999999999999/labels/", {}, format="json"
    )
    assert response.status_code == 404


def test_api_docs_are_served_without_a_cdn(analyst):
    html = api_as(analyst).get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "jsdelivr" not in html


def test_claim_of_an_item_that_hides_the_score_returns_no_score(analyst):
    ReviewItemFactory(score_hidden=True)
    body = api_as(analyst).post("/api/v1/queue/claim/").json()
    assert body["item"]["score_hidden"] is True
    assert body["score"] is None
