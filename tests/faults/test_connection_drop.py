"""Scenario 3: the database connection is dropped in the middle of a request (the backend
terminated with pg_terminate_backend, as a failover or a restart would). The request
fails cleanly (503, nothing written), and the next one succeeds without a restart."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from labeling.models import Label, Lease
from tests.clients import api_as
from tests.factories import ReviewItemFactory
from tests.faults.harness import say

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def _terminate_after_insert_into(table: str):
    """An execute wrapper that lets the statement writing `table` run, then has another
    connection terminate this one's backend: the rest of the request's transaction dies."""
    fired: list[str] = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        flat = " ".join(sql.replace('"', "").split())
        if not fired and f"INSERT INTO {table}" in flat:
            fired.append(sql)
            pid = context["connection"].connection.info.backend_pid
            settings = connection.settings_dict
            with psycopg.connect(
                host=settings["HOST"] or "127.0.0.1",
                port=settings["PORT"] or 5432,
                user=settings["USER"] or "postgres",
                dbname=settings["NAME"],
                autocommit=True,
            ) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return result

    return wrapper, fired


def test_a_connection_dropped_mid_label_fails_cleanly_and_the_retry_succeeds(analyst):
    item = ReviewItemFactory()
    client = api_as(analyst)
    claim = client.post("/api/v1/queue/claim/").json()
    body = {
        "lease": claim["lease"]["token"],
        "decision": "prohibited",
        "category": "drugs",
        "rationale": "sells controlled substances",
        "idempotency_key": "drop-1",
    }
    wrapper, fired = _terminate_after_insert_into("labeling_label")
    with connection.execute_wrapper(wrapper):
        dropped = client.post(f"/api/v1/items/{item.pk}/labels/", body, format="json")
    say(f"backend terminated after {fired[0].split()[:3]}: answered {dropped.status_code}")
    assert fired, "the label was never inserted"
    assert dropped.status_code == 503
    assert dropped.json()["code"] == "database_unavailable"
    assert dropped["Retry-After"]
    assert not Label.objects.exists()  # the insert died with its transaction
    again = client.post(f"/api/v1/items/{item.pk}/labels/", body, format="json")
    say(f"the same request again, on a fresh connection: {again.status_code}")
    assert again.status_code == 201, again.content
    assert Label.objects.count() == 1
    assert Lease.objects.get(token=claim["lease"]["token"]).outcome == Lease.Outcome.LABELLED


def test_a_connection_dropped_mid_page_answers_503_and_the_next_page_works(analyst):
    ReviewItemFactory()
    client = api_as(analyst)
    wrapper, fired = _terminate_after_insert_into("labeling_lease")
    with connection.execute_wrapper(wrapper):
        dropped = client.post("/queue/next/", HTTP_HX_REQUEST="true")
    assert fired and dropped.status_code == 503
    assert "nothing was saved" in dropped.content.decode()
    assert not Lease.objects.exists()
    assert client.post("/queue/next/", HTTP_HX_REQUEST="true").status_code == 200
    assert Lease.objects.count() == 1
