from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from labeling import services as labeling
from labeling.models import ReviewItem
from review import services
from review.seeding import DEMO_USERS, demo_seed, inclusion_probability
from supportability.models import (
    AuditEvent,
    GroundTruth,
    LabelSnapshot,
    Merchant,
    ModelVersion,
    Score,
    TrainingRun,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return demo_seed(merchants=600, seed=11, history=False)


def test_seed_builds_a_scored_world_and_a_sampled_queue(world):
    assert world.created and world.merchants == 600
    assert GroundTruth.objects.count() == 600
    champion = ModelVersion.objects.get(status=ModelVersion.Status.CHAMPION)
    assert champion.artifact_sha256 and len(champion.artifact_sha256) == 64
    assert Score.objects.filter(model_version=champion).count() == 600
    items = ReviewItem.objects.all()
    assert items.exists()
    assert items.filter(required_labels=2).exists()  # some need two independent labels
    assert items.filter(reason=ReviewItem.Reason.AUDIT_SAMPLE).exists()
    gold = items.filter(gold__isnull=False).select_related("gold")
    assert gold.count() == 12
    truth = dict(GroundTruth.objects.values_list("merchant_id", "decision"))
    assert all(item.gold.decision == truth[item.merchant_id] for item in gold)
    # Every queued merchant carries the probability with which it was drawn.
    for item in items.filter(gold__isnull=True):
        assert item.propensity == pytest.approx(inclusion_probability(item.score.probability))
        assert 0 < item.propensity <= 1
    assert {u for u, _, _ in DEMO_USERS} <= set(
        UserFactory._meta.model.objects.values_list("username", flat=True)
    )


def test_seed_is_idempotent(world):
    again = demo_seed(merchants=600, seed=11, history=False)
    assert not again.created
    assert Merchant.objects.count() == 600
    assert AuditEvent.objects.filter(verb="demo.seed").count() == 1


def test_inclusion_probability_is_never_zero_and_grows_with_score():
    values = [inclusion_probability(s) for s in (0.0, 0.001, 0.1, 0.5, 1.0)]
    assert values[0] > 0
    assert values == sorted(values)
    assert values[-1] == 1.0


def test_retrain_learns_from_analyst_labels_and_reprioritises_the_queue(
    world, lead, django_capture_on_commit_callbacks
):
    analyst = UserFactory(username="ana", role="analyst")
    lease = labeling.item_claim(user=analyst)
    merchant_id = lease.item.merchant_id
    labeling.label_submit(
        user=analyst,
        item_id=lease.item_id,
        lease_token=lease.token,
        data=labeling.LabelInput(
            "prohibited", "weapons", "Sells unregistered rifles.", uuid.uuid4().hex
        ),
    )
    first = ModelVersion.objects.get(status="champion")
    with django_capture_on_commit_callbacks(execute=True):  # Celery is eager in tests
        run = services.retrain_start(actor=lead)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
    assert run.progress == 100
    new = ModelVersion.objects.get(status="champion")
    assert new != first
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.RETIRED
    row = run.snapshot.rows.get(merchant_id=merchant_id)
    assert (row.decision, row.category_slug, row.source) == ("prohibited", "weapons", "analyst")
    assert Score.objects.filter(model_version=new).count() == 600
    queued = ReviewItem.objects.filter(status="queued", gold__isnull=True).select_related("score")
    assert queued and all(item.score.model_version_id == new.pk for item in queued)
    assert all(item.priority == item.score.probability for item in queued)
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"retrain.start", "snapshot.create", "model.register", "model.promote"} <= verbs
    assert {"queue.reprioritise", "retrain.finish"} <= verbs


def test_second_retrain_while_one_is_active_is_refused(world, lead):
    TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    with pytest.raises(services.RetrainBusy):
        services.retrain_start(actor=lead)


def test_retrain_on_single_class_data_fails_with_a_clear_message(
    lead, django_capture_on_commit_callbacks
):
    # No seed world: only one supportable label exists.
    from supportability.services import SnapshotRow, snapshot_create
    from tests.factories import MerchantFactory

    merchant = MerchantFactory()
    snapshot_create(
        rows=[SnapshotRow(merchant.pk, "supportable", "none", "seed")], filters={"source": "seed"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = services.retrain_start(actor=lead)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.message
    assert not ModelVersion.objects.exists()
    assert LabelSnapshot.objects.count() == 2


def test_lead_presses_retrain_and_sees_progress(
    world, lead, client, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/lead/retrain/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run = TrainingRun.objects.get()
    html = client.get(f"/lead/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f"Retraining #{run.pk} succeeded" in html
    champion = ModelVersion.objects.get(status="champion")
    assert champion.version.endswith(f"run{run.pk}")
    assert str(champion) in html  # the model table refreshes with the panel


def test_management_commands(world, capsys):
    call_command("create_user", "carol", "--role", "analyst", "--password", "pw-carol-123")
    call_command("create_token", "pusher", "--scopes", "flags:write", "labels:read")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("sr_") and " " not in out[-1]
    call_command("retrain")
    assert TrainingRun.objects.get().status == TrainingRun.Status.SUCCEEDED


def test_a_failed_rescore_leaves_the_champion_in_place(
    world, lead, monkeypatch, django_capture_on_commit_callbacks
):
    import review.services.retraining as review_services

    def broken(**kwargs):
        raise RuntimeError("scoring worker died")

    monkeypatch.setattr(review_services, "merchants_score", broken)
    champion = ModelVersion.objects.get(status="champion")
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        services.retrain_start(actor=lead)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED and not run.holds_lock
    assert ModelVersion.objects.get(status="champion") == champion


def test_a_run_lost_with_its_worker_does_not_block_retraining(world, lead):
    from datetime import timedelta

    from django.utils import timezone

    lost = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    TrainingRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - services.STALE_AFTER - timedelta(minutes=1)
    )
    run = services.retrain_start(actor=lead, enqueue=False)
    lost.refresh_from_db()
    assert lost.status == TrainingRun.Status.FAILED and not lost.holds_lock
    assert run.holds_lock


def test_admin_is_read_only(make_user):
    from django.test import Client

    from tests.factories import MerchantFactory

    admin = make_user("admin", username="root")
    merchant = MerchantFactory()
    client = Client()
    client.force_login(admin)
    url = f"/admin/supportability/merchant/{merchant.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "Hacked"})
    assert response.status_code == 403
    merchant.refresh_from_db()
    assert merchant.name != "Hacked"
