"""Rows stored before the stored-value rules (a non-finite volume, a malformed explanation)
render as unavailable and are reported; nothing that reads them fails."""

from __future__ import annotations

import math

import pytest
from django.core.management import call_command

from supportability.models import DataIssue
from tests.clients import api_as, logged_in
from tests.factories import ReviewItemFactory, poison

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def test_claiming_a_merchant_with_a_non_finite_volume_answers_null(analyst):
    item = ReviewItemFactory()
    poison(item.merchant, "monthly_volume", math.inf)
    response = api_as(analyst).post("/api/v1/queue/claim/")
    assert response.status_code == 200
    merchant = response.json()["item"]["merchant"]
    assert merchant["monthly_volume"] is None
    assert merchant["refund_rate"] == pytest.approx(item.merchant.refund_rate)


def test_a_malformed_stored_explanation_reads_as_unavailable(analyst):
    item = ReviewItemFactory()
    type(item.score).objects.filter(pk=item.score_id).update(explanation={"terms": 5})
    poison(item.merchant, "monthly_volume", math.inf)
    page = logged_in(analyst).post("/queue/next/", **HX)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Explanation unavailable" in html
    volume = html[html.index('<tr data-feature="monthly_volume">') :]
    assert "unavailable: the stored value is not a number" in volume[: volume.index("</tr>")]
    claim = api_as(analyst).post("/api/v1/queue/claim/").json()  # the same item (one lease)
    assert claim["score"]["explanation"] is None


def test_data_check_reports_stored_rows_that_break_the_rules_until_they_are_fixed(capsys):
    item = ReviewItemFactory()
    poison(item.merchant, "monthly_volume", math.inf)
    type(item.score).objects.filter(pk=item.score_id).update(explanation={"terms": 5})
    with pytest.raises(SystemExit) as exit_status:
        call_command("data_check")
    assert exit_status.value.code == 1
    out = capsys.readouterr().out
    assert f"supportability.merchant {item.merchant_id}: monthly_volume_finite" in out
    assert f"supportability.score {item.score_id}: explanation_schema" in out
    assert set(DataIssue.objects.values_list("rule", flat=True)) == {
        "monthly_volume_finite",
        "explanation_schema",
    }
    type(item.merchant).objects.filter(pk=item.merchant_id).update(monthly_volume=10.0)
    type(item.score).objects.filter(pk=item.score_id).update(explanation={})
    call_command("data_check")
    assert "No stored row breaks" in capsys.readouterr().out
    assert not DataIssue.objects.filter(resolved_at__isnull=True).exists()


def test_a_queued_item_with_a_non_finite_priority_is_reset_and_claimable_again(analyst):
    """Priorities were not checked before (a NaN volume made a round's risk weight NaN).
    PostgreSQL enforces even a NOT VALID constraint on every update, so such an item could
    never be claimed: the migration resets the derived number (as repair_derived does)."""
    from django.apps import apps

    from supportability.data_checks import repair_derived

    item = ReviewItemFactory()
    poison(item, "priority", math.inf)
    [reset] = repair_derived(apps)
    assert reset.row_id == str(item.pk) and "priority=inf, reset to 0.0" in reset.detail
    item.refresh_from_db()
    assert item.priority == 0.0
    response = api_as(analyst).post("/api/v1/queue/claim/")
    assert response.status_code == 200
    assert response.json()["item"]["id"] == item.pk


def test_leads_and_admins_see_the_open_data_issues(make_user, lead, capsys):
    from tests.clients import logged_in

    item = ReviewItemFactory()
    poison(item.merchant, "monthly_volume", math.inf)
    with pytest.raises(SystemExit):
        call_command("data_check")
    page = logged_in(lead).get("/lead/").content.decode()
    assert "1 stored row breaks the stored-value rules" in page
    admin = logged_in(make_user("admin", username="root"))
    listing = admin.get("/admin/supportability/dataissue/").content.decode()
    assert "monthly_volume_finite" in listing and str(item.merchant_id) in listing
    assert admin.get("/admin/supportability/outboxmessage/").status_code == 200
