from __future__ import annotations

import numpy as np
import pytest

from labeling import services as labeling
from labeling.models import Draw, GoldAnswer, Queue, ReviewItem, SamplingRound
from review import services
from supportability.models import AuditEvent
from tests.clients import logged_in
from tests.factories import MerchantFactory, QueueFactory, ReviewItemFactory, scored_population

pytestmark = pytest.mark.django_db


def test_queue_page_is_lead_only_and_shows_counts_and_oldest_age(analyst, lead):
    ReviewItemFactory.create_batch(3)
    assert logged_in(analyst).get("/lead/queues/").status_code == 403
    assert logged_in(analyst).post("/lead/gold/", {}).status_code == 403
    html = logged_in(lead).get("/lead/queues/").content.decode()
    row = html[html.index('data-queue="general"') :]
    assert "<td>3</td>" in row
    assert " s</td>" in row  # the oldest waiting item's age


def test_lead_pauses_a_queue(lead):
    queue = QueueFactory(slug="crypto")
    response = logged_in(lead).post(
        f"/lead/queues/{queue.pk}/",
        {"paused": "on", "overlap_share": "0.2", "overlap_k": "3", "gold_rate": "0.1"},
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.paused, queue.overlap_share, queue.overlap_k, queue.gold_rate) == (
        True,
        0.2,
        3,
        0.1,
    )
    assert AuditEvent.objects.filter(verb="queue.update", actor=lead).exists()


def test_bad_queue_setting_is_400_naming_the_field(lead):
    queue = QueueFactory(slug="crypto")
    response = logged_in(lead).post(
        f"/lead/queues/{queue.pk}/", {"overlap_share": "2", "overlap_k": "2", "gold_rate": "0"}
    )
    assert response.status_code == 400
    assert "crypto.overlap_share" in response.content.decode()
    assert Queue.objects.get(pk=queue.pk).overlap_share == pytest.approx(0.0)


def test_lead_sets_a_gold_answer(lead):
    merchant = MerchantFactory(external_id="GOLD-1")
    response = logged_in(lead).post(
        "/lead/gold/",
        {
            "external_id": "GOLD-1",
            "decision": "prohibited",
            "category": "weapons",
            "rationale": "Unlicensed firearms dealer.",
        },
    )
    assert response.status_code == 302
    answer = GoldAnswer.objects.get(merchant=merchant)
    assert answer.created_by == lead
    assert ReviewItem.objects.get(gold=answer).status == ReviewItem.Status.QUEUED


def test_gold_form_names_the_bad_field(lead):
    response = logged_in(lead).post(
        "/lead/gold/",
        {"external_id": "NOPE", "decision": "prohibited", "category": "weapons", "rationale": "x"},
    )
    assert response.status_code == 400
    assert 'data-field="external_id"' in response.content.decode()
    assert not GoldAnswer.objects.exists()


MIX = {
    "draw_capacity": "30",
    "share_risk": "40",
    "share_uncertainty": "30",
    "share_diversity": "10",
    "share_audit": "20",
    "bandit_reward": "violations",
    "audit_floor": "5",
    "hide_score_share": "15",
    "rereview_share": "10",
}


def test_mix_and_draw_controls_are_lead_only(analyst):
    queue = labeling.queue_default()
    client = logged_in(analyst)
    assert client.post(f"/lead/queues/{queue.pk}/mix/", MIX).status_code == 403
    assert client.post(f"/lead/queues/{queue.pk}/draw/").status_code == 403
    assert not SamplingRound.objects.exists()
    queue.refresh_from_db()
    assert queue.mix == {}


def test_lead_sets_the_mix_in_percent(lead):
    queue = labeling.queue_default()
    response = logged_in(lead).post(f"/lead/queues/{queue.pk}/mix/", MIX | {"bandit": "on"})
    assert response.status_code == 302
    queue.refresh_from_db()
    assert queue.mix == pytest.approx(
        {"risk": 0.4, "uncertainty": 0.3, "diversity": 0.1, "audit": 0.2}
    )
    assert (queue.draw_capacity, queue.bandit, queue.audit_floor) == (30, True, 0.05)
    assert queue.hide_score_share == pytest.approx(0.15)
    assert queue.rereview_share == pytest.approx(0.10)
    assert AuditEvent.objects.filter(verb="queue.update", actor=lead).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"share_audit": "0", "share_risk": "60"}, "general.share_audit"),
        ({"share_risk": "10"}, "general.mix"),
        ({"audit_floor": "80"}, "general.audit_floor"),
        ({"bandit_reward": "vibes"}, "general.bandit_reward"),
    ],
)
def test_a_bad_mix_is_400_naming_the_field(lead, change, field):
    queue = labeling.queue_default()
    response = logged_in(lead).post(f"/lead/queues/{queue.pk}/mix/", MIX | change)
    assert response.status_code == 400
    assert field in response.content.decode()
    queue.refresh_from_db()
    assert queue.mix == {} and queue.draw_capacity == 100


def test_lead_draws_a_round_and_sees_why_each_item_is_there(lead):
    scored_population(200, seed=3)
    queue = labeling.queue_default()
    client = logged_in(lead)
    assert client.post(f"/lead/queues/{queue.pk}/draw/").status_code == 302
    drawn = SamplingRound.objects.get()
    html = client.get("/lead/queues/").content.decode()
    section = html[html.index('id="sampling-general"') :]
    assert f'data-round="{drawn.pk}"' in section
    head = ReviewItem.objects.filter(status="queued").order_by("-priority", "id").first()
    row = section[section.index(f'data-item="{head.pk}"') :]
    row = row[: row.index("</tr>")]
    fired = head.draws.get().strategies.split(",")
    assert f"Drawn by {' and '.join(fired)} in round {drawn.pk}" in row
    assert f"{head.propensity:.3f}" in row


def test_an_item_drawn_again_is_explained_by_the_round_that_queued_it(lead):
    scored_population(200, seed=3)
    queue = labeling.queue_default()
    queue.draw_capacity = 15
    queue.save()
    first = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(1))
    second = services.queue_draw_now(queue_id=queue.pk, rng=np.random.default_rng(2))
    redrawn = set(
        Draw.objects.filter(sampling_round=second, reused=True).values_list("item_id", flat=True)
    )
    head = ReviewItem.objects.filter(sampling_round=first, pk__in=redrawn)
    assert head.exists()  # some of the first round's items were drawn again
    html = logged_in(lead).get("/lead/queues/").content.decode()
    for item in head:
        row = html[html.index(f'data-item="{item.pk}"') :]
        row = row[: row.index("</tr>")]
        assert f"in round {first.pk}" in row and f"in round {second.pk}" not in row
        assert f"{item.propensity:.3f}" in row


def test_drawing_without_a_champion_is_409_naming_why(lead):
    queue = labeling.queue_default()
    response = logged_in(lead).post(f"/lead/queues/{queue.pk}/draw/")
    assert response.status_code == 409
    assert "general.model" in response.content.decode()


# --- the SLA target ------------------------------------------------------------------------

SETTINGS = {"overlap_share": "0.2", "overlap_k": "2", "gold_rate": "0.05"}


def test_lead_sets_the_sla_in_hours_and_it_is_stored_in_minutes_and_audited(lead):
    queue = QueueFactory(slug="crypto")
    client = logged_in(lead)
    response = client.post(
        f"/lead/queues/{queue.pk}/", SETTINGS | {"sla": "36", "sla_unit": "hours"}
    )
    assert response.status_code == 302
    assert Queue.objects.get(pk=queue.pk).sla_minutes == 36 * 60
    event = AuditEvent.objects.get(verb="queue.update", actor=lead)
    assert event.before["sla_minutes"] == 24 * 60 and event.after["sla_minutes"] == 36 * 60
    row = client.get("/lead/queues/").content.decode()
    row = row[row.index('data-queue="crypto"') :]
    assert '<td class="sla" data-sla-minutes="2160">36 hours' in row


def test_each_queue_shows_its_sla_in_days_hours_or_minutes(lead):
    QueueFactory(slug="crypto", sla_minutes=2 * 24 * 60)
    QueueFactory(slug="adult", sla_minutes=90)
    labeling.queue_default()
    html = logged_in(lead).get("/lead/queues/").content.decode()
    for slug, words in (("crypto", "2 days"), ("adult", "90 minutes"), ("general", "1 day")):
        row = html[html.index(f'data-queue="{slug}"') :]
        assert row[: row.index("</tr>")].count(f">{words}") == 1, slug


@pytest.mark.parametrize(
    "sla, unit",
    [("4", "minutes"), ("31", "days"), ("-1", "hours"), ("nan", "hours"), ("inf", "days")],
)
def test_an_sla_out_of_range_is_400_naming_the_field_and_changes_nothing(lead, sla, unit):
    queue = QueueFactory(slug="crypto")
    response = logged_in(lead).post(
        f"/lead/queues/{queue.pk}/", SETTINGS | {"sla": sla, "sla_unit": unit}
    )
    assert response.status_code == 400
    assert 'data-field="crypto.sla"' in response.content.decode()
    queue.refresh_from_db()
    assert queue.sla_minutes == 24 * 60 and queue.overlap_share == pytest.approx(0.0)
    assert not AuditEvent.objects.filter(verb="queue.update").exists()


def test_a_settings_form_without_an_sla_leaves_it_alone(lead):
    queue = QueueFactory(slug="crypto", sla_minutes=45)
    assert logged_in(lead).post(f"/lead/queues/{queue.pk}/", SETTINGS).status_code == 302
    assert Queue.objects.get(pk=queue.pk).sla_minutes == 45


@pytest.mark.parametrize("value", [4, 30 * 24 * 60 + 1, True, 60.5])
def test_the_settings_service_refuses_an_sla_outside_5_minutes_to_30_days(lead, value):
    queue = QueueFactory(slug="crypto")
    with pytest.raises(labeling.InvalidInput) as raised:
        labeling.queue_update(actor=lead, queue_id=queue.pk, sla_minutes=value)
    assert raised.value.field == "sla_minutes"
    assert Queue.objects.get(pk=queue.pk).sla_minutes == 24 * 60


def test_the_queue_page_has_one_h1_and_says_why_when_nothing_waits(lead):
    labeling.queue_default()
    html = logged_in(lead).get("/lead/queues/").content.decode()
    assert html.count("<h1") == 1
    row = html[html.index('data-queue="general"') :]
    assert "nothing waiting" in row[: row.index("</tr>")]


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
@pytest.mark.parametrize("field", ["overlap_share", "gold_rate", "sla"])
def test_queue_settings_refuse_non_finite_numbers_naming_the_field(field, value):
    from review.forms import QueueSettingsForm

    data = {"overlap_share": "0.1", "overlap_k": "2", "gold_rate": "0.05"}
    data |= {field: value, "sla_unit": "hours"}
    form = QueueSettingsForm(data)
    assert not form.is_valid()
    assert "finite" in " ".join(form.errors[field])


@pytest.mark.parametrize("field", ["share_risk", "audit_floor", "hide_score_share"])
def test_queue_mix_refuses_nan_naming_the_field(field):
    from review.forms import QueueMixForm

    form = QueueMixForm({field: "NaN"})
    assert not form.is_valid()
    assert "finite" in " ".join(form.errors[field])
