"""Scenario 4: a corpus of hostile values through every intake path: the flags API, bulk
files, the label, claim and snapshot APIs, the lead's forms and the management commands.
Every one is refused with a 4xx (or a command error) naming what is wrong, nothing is
stored, and a retraining afterwards still succeeds."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from labeling.models import Label, Queue
from review.models import ReviewSettings
from review.services import retrain_execute, retrain_start
from supportability.models import AuditEvent, LabelSnapshot, Merchant, Score, TrainingRun
from supportability.services import token_create
from tests.clients import api_as, bearer, logged_in
from tests.faults.harness import say
from tests.labeling.test_intake import ROW

pytestmark = pytest.mark.django_db

# Values no number, string or object field should take.
NUMBERS = [math.nan, math.inf, -math.inf, "NaN", "Infinity", "0.5", True, None, [], {}, 1e309]
TEXTS = ["a\u0000b", "\ud800", 5, True, None, [], {"$gt": ""}, "x" * 200_001]
EXPLANATIONS = [
    {"terms": 5},
    {"terms": [["a", math.nan]]},
    {"terms": [["\u0000", 1]]},
    {"features": [["x", 1, 2, 3]]},
    {"categories": [["DROP TABLE", 1]]},
    {"terms": [[["nested"], 1]]},
    {"other": 1},
    "terms",
    [1],
    {"terms": [["a", 1]] * 51},
]
MERCHANT_NUMBERS = (
    "refund_rate",
    "dispute_rate",
    "cnp_share",
    "account_age_days",
    "monthly_volume",
)
MERCHANT_TEXTS = ("external_id", "name", "country", "mcc", "url", "description", "website_text")


def _flags_corpus() -> list[tuple[str, dict[str, Any]]]:
    corpus = []
    for field in MERCHANT_NUMBERS:
        for value in NUMBERS:
            row: dict[str, Any] = copy.deepcopy(ROW)
            row["merchant"][field] = value
            corpus.append((f"merchant.{field}={value!r}", row))
    for field in MERCHANT_TEXTS:
        for value in TEXTS:
            text_row: dict[str, Any] = copy.deepcopy(ROW)
            text_row["merchant"][field] = value
            corpus.append((f"merchant.{field}={str(value)[:12]!r}", text_row))
    for value in NUMBERS:
        corpus.append((f"score={value!r}", ROW | {"score": value}))
    for value in EXPLANATIONS:
        corpus.append((f"explanation={str(value)[:20]}", ROW | {"explanation": value}))
    for value in TEXTS:
        if value is not None:  # (no category is a valid answer)
            corpus.append((f"category={str(value)[:12]!r}", ROW | {"category": value}))
        named: dict[str, Any] = copy.deepcopy(ROW)
        named["model"]["name"] = value
        corpus.append((f"model.name={str(value)[:12]!r}", named))
    return corpus


def _stored() -> tuple[int, ...]:
    return (
        Merchant.objects.count(),
        Score.objects.count(),
        Label.objects.count(),
        LabelSnapshot.objects.count(),
        # A credential's first use in its window is recorded whatever the request held.
        AuditEvent.objects.exclude(verb__startswith="retrain").exclude(verb="token.used").count(),
    )


def test_hostile_input_through_every_path_is_refused_and_retraining_still_succeeds(
    settled, lead, analyst, tmp_path: Path
):
    refused: dict[str, int] = {}
    _, secret = token_create(name="hostile", scopes=["flags:write"])
    detector = bearer(secret)
    client = api_as(analyst)
    claim = client.post("/api/v1/queue/claim/", {}, format="json").json()
    before = _stored()

    # The flags API, every field.
    for name, row in _flags_corpus():
        body = json.dumps([row], allow_nan=True)
        answer = detector.generic("POST", "/api/v1/flags/", body, content_type="application/json")
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.content[:300])
        assert answer.json()["errors"], name
        refused["flags API"] = refused.get("flags API", 0) + 1

    # A bulk file with the same rows.
    for i, (_name, row) in enumerate(_flags_corpus()[::5]):
        path = tmp_path / f"hostile-{i}.jsonl"
        path.write_text(
            json.dumps(row, allow_nan=True) + "\n", encoding="utf-8", errors="surrogatepass"
        )
        with pytest.raises(CommandError):
            call_command("import_flags", str(path))
        refused["bulk file"] = refused.get("bulk file", 0) + 1

    # The analyst's APIs: claim, label.
    item, lease = claim["item"]["id"], claim["lease"]["token"]
    good = {"lease": lease, "decision": "prohibited", "category": "drugs", "rationale": "x",
            "idempotency_key": "k"}  # fmt: skip
    for field, values in {
        "decision": [True, 3, "maybe", None],
        "rationale": TEXTS,
        "category": TEXTS,
        "lease": [5, "not-a-uuid", None],
        "idempotency_key": TEXTS,
    }.items():
        for value in values:
            body = json.dumps(good | {field: value}, allow_nan=True)
            answer = client.generic(
                "POST", f"/api/v1/items/{item}/labels/", body, content_type="application/json"
            )
            assert 400 <= answer.status_code < 500, (field, value, answer.content[:300])
            refused["label API"] = refused.get("label API", 0) + 1
    for value in TEXTS:
        answer = client.generic(
            "POST",
            "/api/v1/queue/claim/",
            json.dumps({"queue": value}),
            content_type="application/json",
        )
        assert 400 <= answer.status_code < 500, value
        refused["claim API"] = refused.get("claim API", 0) + 1

    # The lead's snapshot API.
    lead_api = api_as(lead)
    for snapshot in ({"refresh": "yes"}, {"refresh": 1}, {"note": "\u0000"}, {"note": "n" * 201}):
        answer = lead_api.post("/api/v1/snapshots/", snapshot, format="json")
        assert answer.status_code == 400, snapshot
        refused["snapshot API"] = refused.get("snapshot API", 0) + 1

    # The lead's forms.
    lead_page = logged_in(lead)
    queue = Queue.objects.get(slug=Queue.DEFAULT_SLUG)
    settings_before = Queue.objects.filter(pk=queue.pk).values().get()
    for value in ("nan", "inf", "-inf", "1e309", "NaN", "true", "0x1", "1,5"):
        page = lead_page.post(
            f"/lead/queues/{queue.pk}/",
            {"overlap_share": value, "overlap_k": 2, "gold_rate": 0.05},
        )
        assert page.status_code == 400, value
        page = lead_page.post(
            "/lead/work/rules/", {"audit_rate": value, "audit_floor": 0.02, "audit_cap": 0.5}
        )
        assert page.status_code == 400, value
        refused["lead forms"] = refused.get("lead forms", 0) + 2
    assert Queue.objects.filter(pk=queue.pk).values().get() == settings_before
    assert not ReviewSettings.objects.exists()

    # Management commands.
    for argv in (["seed_demo", "--merchants", "nan"], ["import_flags", "/no/such/file.csv"]):
        with pytest.raises((CommandError, SystemExit)):
            call_command(*argv)
        refused["commands"] = refused.get("commands", 0) + 1

    assert _stored() == before, "a refused request stored something"
    say(f"refused and stored nothing: {refused} ({sum(refused.values())} attempts)")

    run = retrain_execute(run_id=retrain_start(actor=lead, enqueue=False).pk)
    say(f"retraining afterwards: {run.status} ({run.message[:80]})")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
