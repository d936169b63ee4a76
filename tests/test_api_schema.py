"""Every API operation against its own OpenAPI schema (schemathesis, in process).

The schema is the one the app serves at /api/schema/ (to a signed-in user or a token; built
here by the same generator, and checked equal to what is served); each operation gets requests that
hypothesis generates from it, valid and invalid, as a service token with every scope (it
may call every endpoint), and each answer is checked: no server error, a documented
status, content type, headers and body.

A small world exists first: merchants, queued items, a lease the token holds, a label, a
clean label and a snapshot. Generated ids and lease tokens are swapped, half the time, for
the world's, so that reads, heartbeats, releases and labels succeed as well as fail.

The errors no generated request meets (no credentials, no scope, an oversized or non-JSON
body, a lost database) are each provoked once per operation and checked the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labeling import services as queue_services
from review.services.clean_labels import snapshot_from_clean_labels
from supportability.api.authentication import BearerTokenAuthentication
from supportability.models import ApiToken
from supportability.services import token_create
from supportability.wsgi import application
from tests.factories import (
    ReviewItemFactory,
    UserFactory,
    clean_label,
    label_through_services,
)

pytestmark = pytest.mark.django_db


def _served_schema() -> dict[str, Any]:
    """What /api/schema/ serves, generated in process: reading it over HTTP needs a token,
    which needs the database, which a module does not have when it is imported."""
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, default=str))


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Ids and the lease token of the world the current test built (read while generating).
WORLD: dict[str, str] = {}


@pytest.fixture
def in_process_requests():
    """Django closes the database connection after each request it serves (its test
    client opts out the same way): here that would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def every_scope(in_process_requests):
    """A service token with every scope: it may call every endpoint."""
    token, secret = token_create(name="schemathesis", scopes=list(ApiToken.Scope.values))
    return token, {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def world(every_scope):
    """The token holds a live lease, beside a labelled item, a queued one, a clean label
    and a snapshot."""
    token, headers = every_scope
    analyst = UserFactory(role="analyst")
    labelled = ReviewItemFactory(priority=0.9)
    label_through_services(analyst, labelled, "prohibited", "pseudo-pharmaceuticals")
    held = ReviewItemFactory(priority=0.8)
    ReviewItemFactory(priority=0.1)
    lease = queue_services.item_claim(user=token.user)
    assert lease is not None and lease.item_id == held.pk
    clean_label(labelled.merchant)
    snapshot = snapshot_from_clean_labels(actor=analyst)
    WORLD.update(item_id=str(held.pk), snapshot_id=str(snapshot.pk), lease=str(lease.token))
    yield headers
    WORLD.clear()


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    known = {name: WORLD[name] for name in path_parameters or {} if name in WORLD}
    if path_parameters is None or not known:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if isinstance(body, dict) and "lease" in body:
        return st.sampled_from([body, {**body, "lease": WORLD["lease"]}])
    return st.just(body)


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    # One world for every example: what a request changes, the next one meets.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case, world):
    case.call_and_validate(headers=world, checks=CHECKS)


# --- the errors each operation lists ------------------------------------------------------

ERROR = {"$ref": "#/components/schemas/Error"}


def test_each_operation_lists_the_errors_it_can_answer_in_the_one_shape():
    listed = {}
    for path, methods in schema.raw_schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            listed[method, path] = {code for code in responses if int(code) >= 400}
            for code in listed[method, path]:
                assert responses[code]["content"]["application/json"]["schema"] == ERROR
    assert listed == {
        ("get", "/api/v1/clean-labels/"): {"400", "401", "403", "404", "429", "503"},
        ("post", "/api/v1/flags/"): {"400", "401", "403", "413", "415", "429", "503"},
        **{
            ("post", path): {"400", "401", "403", "404", "409", "413", "415", "429", "503"}
            for path in (
                "/api/v1/items/{item_id}/labels/",
                "/api/v1/items/{item_id}/heartbeat/",
                "/api/v1/items/{item_id}/release/",
            )
        },
        ("get", "/api/v1/labels/"): {"400", "401", "403", "404", "429", "503"},
        ("post", "/api/v1/queue/claim/"): {
            *("400", "401", "403", "409", "413", "415", "429", "503")
        },
        ("get", "/api/v1/snapshots/"): {"400", "401", "403", "404", "429", "503"},
        ("post", "/api/v1/snapshots/"): {"400", "401", "403", "409", "413", "415", "429", "503"},
        ("get", "/api/v1/snapshots/{snapshot_id}/"): {"401", "403", "404", "429", "503"},
        ("get", "/api/v1/snapshots/{snapshot_id}/rows"): {
            *("400", "401", "403", "404", "429", "503")
        },
    }


def test_the_schema_tested_is_the_one_served(every_scope):
    _, headers = every_scope
    served = Client().get("/api/schema/?format=json", headers=headers)
    assert served.status_code == 200
    assert served.json() == schema.raw_schema


# --- the refusals generated requests do not reach ----------------------------------------


def _operations():
    return [result.ok() for result in schema.get_all_operations()]


OPERATIONS = _operations()
WITH_BODY = [operation for operation in OPERATIONS if list(operation.body)]


def _case(operation: Any, **kwargs: Any) -> Any:
    return operation.Case(
        path_parameters={parameter.name: "1" for parameter in operation.path_parameters},
        **kwargs,
    )


def _label(operation: Any) -> str:
    return str(operation.label)


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_anonymous_requests_get_the_documented_401(operation, in_process_requests):
    response = _case(operation).call_and_validate(checks=CHECKS)
    assert response.status_code == 401


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_a_token_without_scopes_gets_the_documented_403(operation, in_process_requests):
    _, secret = token_create(name="no-scopes", scopes=[])
    response = _case(operation).call_and_validate(
        headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS
    )
    assert response.status_code == 403


@pytest.mark.parametrize("operation", WITH_BODY, ids=_label)
def test_an_oversized_body_gets_the_documented_413(operation, every_scope, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    _, headers = every_scope
    response = _case(operation, body={"note": "x" * 101}).call_and_validate(
        headers=headers, checks=CHECKS
    )
    assert response.status_code == 413


@pytest.mark.parametrize("operation", WITH_BODY, ids=_label)
def test_a_body_that_is_not_json_gets_the_documented_415(operation, every_scope):
    _, headers = every_scope
    response = _case(operation, body="note", media_type="text/plain").call_and_validate(
        headers=headers, checks=CHECKS
    )
    assert response.status_code == 415


@pytest.mark.parametrize("operation", OPERATIONS, ids=_label)
def test_a_lost_database_gets_the_documented_503(operation, every_scope, monkeypatch):
    def lost(*args):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(BearerTokenAuthentication, "authenticate", lost)
    _, headers = every_scope
    response = _case(operation).call_and_validate(
        headers=headers,
        checks=[check for check in CHECKS if check is not not_a_server_error],  # it is one
    )
    assert response.status_code == 503
