"""Every CSV the app writes neutralises formula cells (OWASP): text starting with `=`, `+`,
`-`, `@`, a tab or a carriage return comes back through Python's csv reader with a leading
`'`; numbers stay exact, and JSON lines keep the value as it was."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from review.models import AgreementStat, AnalystQuality, QualityRun
from supportability.audit import audit_record
from supportability.csv_cells import FORMULA_PREFIXES, csv_cell
from supportability.models import PolicyCategory
from supportability.services import SnapshotRow, snapshot_create
from tests.clients import logged_in
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

PREFIX_IDS = ["equals", "plus", "minus", "at", "tab", "cr"]
prefixes = pytest.mark.parametrize("prefix", FORMULA_PREFIXES, ids=PREFIX_IDS)


def _snapshot(*, external_id, features_ref):
    merchant = MerchantFactory(external_id=external_id)
    row = SnapshotRow(
        merchant_id=merchant.pk,
        decision="restricted",
        category_slug="gambling",
        source="adjudication",
        weight=0.75,
        confidence=0.75,
        propensity=0.5,
        features_ref=features_ref,
    )
    return snapshot_create(rows=[row], filters={}, actor=None)


def _streamed(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def _dict_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- the one function ------------------------------------------------------------------------


def test_the_prefixes_are_owasps_six():
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


@prefixes
def test_text_starting_with_a_formula_prefix_gets_a_leading_apostrophe(prefix):
    assert csv_cell(f"{prefix}SUM(A1:A9)") == f"'{prefix}SUM(A1:A9)"


@pytest.mark.parametrize("value", [-0.5, -3, Decimal("-0.250000"), None, "plain", "a=b", ""])
def test_numbers_none_and_harmless_text_are_unchanged(value):
    assert csv_cell(value) == value and type(csv_cell(value)) is type(value)


# --- a snapshot's rows -----------------------------------------------------------------------


@prefixes
def test_snapshot_csv_from_the_api_neutralises_merchant_text(prefix, reader):
    snapshot = _snapshot(external_id=f"{prefix}cmd|' /C calc'!A0", features_ref=f"{prefix}ref")
    text = _streamed(reader.get(f"/api/v1/snapshots/{snapshot.pk}/rows?format=csv"))
    [row] = _dict_rows(text)
    assert row["merchant_external_id"] == f"'{prefix}cmd|' /C calc'!A0"
    assert row["features_ref"] == f"'{prefix}ref"
    # The numeric columns stay numbers, exact.
    assert (row["confidence"], row["propensity"], row["weight"]) == ("0.75", "0.5", "0.75")


@prefixes
def test_snapshot_csv_from_the_export_command_neutralises_merchant_text(prefix):
    snapshot = _snapshot(external_id=f"{prefix}1+1", features_ref=f"{prefix}ref")
    stdout = io.StringIO()
    call_command("export_snapshot", str(snapshot.pk), "--format", "csv", stdout=stdout)
    [row] = _dict_rows(stdout.getvalue())
    assert (row["merchant_external_id"], row["features_ref"]) == (f"'{prefix}1+1", f"'{prefix}ref")


@prefixes
def test_snapshot_jsonl_keeps_the_exact_value(prefix, reader):
    snapshot = _snapshot(external_id=f"{prefix}1+1", features_ref=f"{prefix}ref")
    text = _streamed(reader.get(f"/api/v1/snapshots/{snapshot.pk}/rows?format=jsonl"))
    [row] = [json.loads(line) for line in text.splitlines()]
    assert (row["merchant_external_id"], row["features_ref"]) == (f"{prefix}1+1", f"{prefix}ref")
    assert row["weight"] == 0.75


# --- the audit export ------------------------------------------------------------------------


@prefixes
def test_audit_csv_neutralises_the_merchant_and_the_actor(prefix, lead):
    merchant = MerchantFactory(external_id=f"{prefix}HYPERLINK(1)")
    audit_record(
        actor=None,
        actor_label=f"{prefix}upstream",
        verb="merchant.update",
        target=merchant,
        merchant_id=merchant.pk,
        after={"rationale": f"{prefix}because"},
    )
    text = _streamed(logged_in(lead).get("/lead/audit.csv"))
    row = next(r for r in _dict_rows(text) if r["verb"] == "merchant.update")
    assert row["merchant"] == f"'{prefix}HYPERLINK(1)"
    assert row["actor"] == f"'{prefix}upstream"
    # The rationale sits inside the JSON text, which starts with `{`: the value is intact.
    assert json.loads(row["after"])["rationale"] == f"{prefix}because"


# --- the agreement export --------------------------------------------------------------------


@prefixes
def test_agreement_csv_neutralises_names_and_keeps_a_negative_kappa_a_number(
    prefix, lead, make_user
):
    ann = make_user("analyst", username=f"{prefix}ann")
    category = PolicyCategory.objects.create(
        slug=f"{prefix}cat", name="Formula", severity=PolicyCategory.objects.first().severity
    )
    run = QualityRun.objects.create(since=QualityRun._meta.get_field("computed_at").default())
    AgreementStat.objects.create(
        run=run, scope=AgreementStat.Scope.CATEGORY, category=category, items=3, kappa=-0.25
    )
    AnalystQuality.objects.create(
        run=run, analyst=ann, labels=4, gold_answered=0, audited=0, overturned=0, audit_rate=0.1
    )
    text = _streamed(logged_in(lead).get(reverse("review:agreement-csv")))
    rows = _dict_rows(text)
    by_category = next(r for r in rows if r["kind"] == "category")
    assert by_category["category"] == f"'{prefix}cat"
    assert by_category["kappa"] == "-0.250000"
    analyst_row = next(r for r in rows if r["kind"] == "analyst")
    assert analyst_row["analyst_a"] == f"'{prefix}ann"
    assert (analyst_row["labels"], analyst_row["audit_rate"]) == ("4", "0.100000")
