from __future__ import annotations

import pytest
from django.core.management import call_command

from labeling.models import ReviewItem
from review import services
from review.demo.seeding import DEMO_USERS, demo_seed, inclusion_probability
from supportability.models import (
    AuditEvent,
    GroundTruth,
    LabelSnapshot,
    Merchant,
    ModelVersion,
    OutboxMessage,
    Score,
    TrainingRun,
)
from tests.factories import UserFactory, clean_labels_from_truth

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
    # Every queued merchant carries the probability with which its round drew it.
    drawn = items.filter(gold__isnull=True, sampling_round__isnull=False)
    assert drawn.count() == items.filter(gold__isnull=True).count()
    for item in drawn:
        draw = item.draws.get(sampling_round=item.sampling_round)
        assert item.propensity == pytest.approx(draw.propensity)
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


def test_retrain_evaluates_promotes_rescores_and_reprioritises(
    settled, lead, django_capture_on_commit_callbacks
):
    first = ModelVersion.objects.get(status="champion")
    drawn_order = dict(
        ReviewItem.objects.filter(status="queued", sampling_round__isnull=False).values_list(
            "id", "priority"
        )
    )
    assert drawn_order
    with django_capture_on_commit_callbacks(execute=True):  # Celery is eager in tests
        run = services.retrain_start(actor=lead)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.message, run.gate)
    assert run.progress == 100 and run.gate["passed"]
    new = ModelVersion.objects.get(status="champion")
    assert new != first
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.RETIRED
    evaluation = new.metrics["evaluation"]
    assert (
        evaluation["pr_auc"]["low"]
        <= evaluation["pr_auc"]["estimate"]
        <= evaluation["pr_auc"]["high"]
    )
    assert new.metrics["holdout_rows"] > 50
    assert new.metrics["champion_evaluation"]["pr_auc"]["estimate"] is not None
    assert Score.objects.filter(model_version=new).count() == Merchant.objects.count()
    queued = ReviewItem.objects.filter(status="queued", gold__isnull=True).select_related("score")
    assert queued and all(item.score.model_version_id == new.pk for item in queued)
    # Items flagged outside the sampling rounds are ranked by the new score; drawn ones keep
    # their round's order.
    assert all(item.priority == drawn_order.get(item.pk, item.score.probability) for item in queued)
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"retrain.start", "snapshot.create", "model.register", "model.evaluate"} <= verbs
    assert {"model.gate", "model.promote", "queue.reprioritise", "retrain.finish"} <= verbs
    # Beside the chain: the similar-decisions index follows the refreshed clean labels, and
    # decisions the new champion crosses the threshold against get a second look.
    follow_ups = dict(OutboxMessage.objects.values_list("task", "kwargs"))
    assert "review.tasks.similar_index_refresh" in follow_ups
    assert follow_ups["review.tasks.rereview_crossed"] == {
        "before_id": first.pk,
        "after_id": new.pk,
    }


def _scrambled_retrain(lead, capture) -> TrainingRun:
    """A good champion trained on the truth, then a candidate trained on scrambled labels."""
    from review.models import CleanLabel

    with capture(execute=True):
        good = services.retrain_start(actor=lead)
    good.refresh_from_db()
    assert good.status == TrainingRun.Status.SUCCEEDED, good.message
    CleanLabel.objects.all().delete()
    clean_labels_from_truth(
        GroundTruth.objects.select_related("merchant").order_by("merchant__external_id"),
        flip_violators=0.7,
    )
    with capture(execute=True):
        run = services.retrain_start(actor=lead)
    run.refresh_from_db()
    return run


def test_a_candidate_on_too_little_evidence_is_held_for_a_lead(
    settled, lead, settings, django_capture_on_commit_callbacks
):
    """The gate's own minimum: the rarer categories of 400 held-out labels have fewer than
    30 each, so however good the candidate, a lead decides."""
    settings.GATE_MIN_LABELS_PER_CATEGORY = 30
    first = ModelVersion.objects.get(status="champion")
    with django_capture_on_commit_callbacks(execute=True):
        run = services.retrain_start(actor=lead)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.HELD
    assert run.gate["verdict"] == "not enough evidence"
    assert run.gate["reasons"][0].startswith("Not enough evidence: ")
    assert "categories below 30" in run.gate["reasons"][0]
    assert ModelVersion.objects.get(status="champion") == first


def test_a_worse_candidate_is_held_for_a_lead(settled, lead, django_capture_on_commit_callbacks):
    run = _scrambled_retrain(lead, django_capture_on_commit_callbacks)
    champion = ModelVersion.objects.get(status="champion")
    assert run.status == TrainingRun.Status.HELD and not run.holds_lock, (run.message, run.gate)
    assert not run.gate["passed"]
    assert any("PR-AUC" in reason for reason in run.gate["reasons"]), run.gate
    assert champion != run.model_version  # the good model stays champion
    candidate = run.model_version
    assert candidate.status == ModelVersion.Status.CANDIDATE
    assert not Score.objects.filter(model_version=candidate).exists()  # never rescored
    services.candidate_reject(actor=lead, model_version_id=candidate.pk, reason="it misses")
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.REJECTED
    assert AuditEvent.objects.filter(verb="model.reject").exists()


def test_a_lead_can_promote_a_held_candidate(settled, lead, django_capture_on_commit_callbacks):
    held = _scrambled_retrain(lead, django_capture_on_commit_callbacks)
    assert held.status == TrainingRun.Status.HELD
    with django_capture_on_commit_callbacks(execute=True):
        run = services.candidate_promote(actor=lead, model_version_id=held.model_version_id)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
    assert ModelVersion.objects.get(status="champion").pk == held.model_version_id
    assert (
        Score.objects.filter(model_version_id=held.model_version_id).count()
        == Merchant.objects.count()
    )
    assert AuditEvent.objects.filter(verb="model.promote_requested").exists()


def test_every_step_is_idempotent(settled, lead):
    from review.services import retrain_steps, retraining

    run = services.retrain_start(actor=lead, enqueue=False)
    for step in (
        retraining.retrain_snapshot,
        retraining.retrain_train,
        retraining.retrain_evaluate,
        retraining.retrain_decide,
    ):
        step(run_id=run.pk)
        step(run_id=run.pk)  # a redelivered task: nothing twice
    chunks = retrain_steps.rescore_chunks(run_id=run.pk)
    for lo, hi in chunks + chunks:
        retraining.rescore_chunk(run_id=run.pk, first_id=lo, last_id=hi)
    for step in (retraining.retrain_promote, retraining.retrain_reprioritise):
        step(run_id=run.pk)
        step(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    # Each step handed over to the next once, however often it ran: snapshot, train,
    # evaluate, decide, each chunk, promote, reprioritise.
    keys = list(run.outbox.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 6 + len(chunks)
    assert LabelSnapshot.objects.filter(filters__source="retrain").count() == 1
    assert ModelVersion.objects.filter(version=f"run{run.pk}").count() == 1
    assert Score.objects.filter(model_version=run.model_version).count() == Merchant.objects.count()
    assert AuditEvent.objects.filter(verb="model.promote").count() == 2  # seed, then this one
    assert AuditEvent.objects.filter(verb="retrain.finish").count() == 1


def test_a_crash_between_steps_leaves_a_consistent_state(
    settled, lead, monkeypatch, django_capture_on_commit_callbacks
):
    import review.services.retraining as retraining

    def crash(*args, **kwargs):
        raise RuntimeError("worker lost mid-evaluation")

    monkeypatch.setattr(retraining, "evaluate", crash)
    champion = ModelVersion.objects.get(status="champion")
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        services.retrain_start(actor=lead)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED and not run.holds_lock
    assert "worker lost" in run.message
    assert ModelVersion.objects.get(status="champion") == champion
    assert not Score.objects.filter(model_version=run.model_version).exists()
    # Nothing is left half-done: a new run starts and finishes.
    monkeypatch.undo()
    monkeypatch.setattr(retraining, "clean_labels_refresh", lambda **kwargs: 0)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.retrain_start(actor=lead)
    again.refresh_from_db()
    assert again.status == TrainingRun.Status.SUCCEEDED, again.message


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
    assert "one class" in run.message
    assert not ModelVersion.objects.exists()
    assert LabelSnapshot.objects.count() == 1  # no snapshot of a set that cannot train


def test_lead_presses_retrain_and_sees_progress(
    settled, lead, client, django_capture_on_commit_callbacks
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


def test_management_commands(settled, capsys):
    call_command("create_user", "carol", "--role", "analyst", "--password", "pw-carol-123")
    call_command("create_token", "pusher", "--scopes", "flags:write", "labels:read")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("sr_") and " " not in out[-1]
    call_command("retrain")
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.message, run.gate)
    printed = capsys.readouterr().out
    assert "100% done" in printed  # the progress bar reached the end


def test_a_failed_rescore_leaves_the_champion_in_place(
    settled, lead, monkeypatch, django_capture_on_commit_callbacks
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


def test_a_poisoned_merchant_stored_before_the_rules_does_not_stop_retraining(settled, lead):
    """A volume stored as Infinity (before the CHECK constraints) cannot be featurised:
    training, evaluation and rescoring leave that merchant out and say how many."""
    from math import inf

    from supportability.services import merchants_scorable
    from tests.factories import poison

    in_training = LabelSnapshot.objects.get(filters__source="seed").rows.first().merchant
    poison(in_training, "monthly_volume", inf)
    run = services.retrain_start(actor=lead, enqueue=False)
    run = services.retrain_execute(run_id=run.pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.message
    assert run.skipped_rows >= 1
    assert "left out: the merchant's stored data cannot be read" in run.message
    assert run.model_version.metrics["skipped_rows"] >= 1
    assert not Score.objects.filter(model_version=run.model_version, merchant=in_training)
    assert merchants_scorable().count() == Merchant.objects.count() - 1
    assert Score.objects.filter(model_version=run.model_version).count() == (
        Merchant.objects.count() - 1
    )
