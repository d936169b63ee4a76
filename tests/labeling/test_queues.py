"""Queues, overlap, gold items, heartbeats and bulk re-prioritisation (both databases)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from labeling import services
from labeling.models import Label, Lease, ReviewItem
from supportability.models import AuditEvent
from tests.factories import MerchantFactory, QueueFactory, ReviewItemFactory, ScoreFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _label(user, lease, decision="prohibited", category="weapons", rationale="Sells rifles."):
    return services.label_submit(
        user=user,
        item_id=lease.item_id,
        lease_token=lease.token,
        data=services.LabelInput(decision, category, rationale, uuid.uuid4().hex),
    )


def test_heartbeat_extends_the_lease_and_is_audited(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    extended = services.lease_heartbeat(user=analyst, item_id=item.pk, lease_token=lease.token)
    assert extended.expires_at > timezone.now() + timedelta(minutes=9)
    assert AuditEvent.objects.filter(verb="lease.heartbeat").count() == 1


def test_heartbeat_after_expiry_is_refused(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.LeaseLost, match="expired"):
        services.lease_heartbeat(user=analyst, item_id=item.pk, lease_token=lease.token)


def test_heartbeat_view_answers_204_then_409_with_a_warning(analyst):
    item = ReviewItemFactory()
    client = Client()
    client.force_login(analyst)
    client.post("/queue/next/", **HX)
    lease = Lease.objects.get()
    url = f"/queue/items/{item.pk}/heartbeat/"
    assert client.post(url, {"lease": str(lease.token)}, **HX).status_code == 204
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(url, {"lease": str(lease.token)}, **HX)
    assert response.status_code == 409 and "expired" in response.content.decode()


def test_own_lapsed_lease_does_not_block_the_next_claim(analyst):
    first, second = ReviewItemFactory(priority=0.9), ReviewItemFactory(priority=0.5)
    lease = services.item_claim(user=analyst)
    assert lease.item_id == first.pk
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = services.item_claim(user=analyst)
    assert again is not None and again.pk != lease.pk
    assert Lease.objects.get(pk=lease.pk).outcome == Lease.Outcome.EXPIRED
    assert {again.item_id} <= {first.pk, second.pk}


def test_overlap_is_blind_and_agreement_completes_the_item(make_user):
    a, b = make_user(username="a"), make_user(username="b")
    item = ReviewItemFactory(required_labels=2)
    _label(a, services.item_claim(user=a), rationale="SECRET-FIRST-RATIONALE")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.QUEUED
    client = Client()
    client.force_login(b)
    html = client.post("/queue/next/", **HX).content.decode()
    assert 'id="label-form"' in html
    assert "SECRET-FIRST-RATIONALE" not in html and ">a<" not in html
    lease_b = Lease.objects.get(holder=b, outcome="active")
    assert lease_b.item_id == item.pk
    _label(b, lease_b, rationale="Also rifles.")
    item.refresh_from_db()
    assert (item.status, item.label_count) == (ReviewItem.Status.DONE, 2)


def test_disagreement_escalates_to_a_lead(make_user):
    a, b = make_user(username="a"), make_user(username="b")
    item = ReviewItemFactory(required_labels=2)
    _label(a, services.item_claim(user=a))
    _label(b, services.item_claim(user=b), decision="supportable", category="none", rationale="")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.ESCALATED
    assert services.item_claim(user=a) is None


def test_unsure_escalates_instead_of_finishing(analyst):
    item = ReviewItemFactory()
    _label(analyst, services.item_claim(user=analyst), "unsure", "none", "Cannot tell.")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.ESCALATED


def test_paused_queue_is_not_served_and_named_queue_is(analyst, lead):
    other = QueueFactory(slug="sanctions")
    ReviewItemFactory(priority=0.9, queue=other)
    general = ReviewItemFactory(priority=0.1)
    services.queue_update(actor=lead, queue_id=other.pk, paused=True)
    assert services.item_claim(user=analyst).item_id == general.pk
    assert AuditEvent.objects.filter(verb="queue.update", object_id=str(other.pk)).exists()


def test_closed_queue_serves_only_members_with_the_role(make_user):
    closed = QueueFactory(slug="adult", open_to_all=False, required_role="lead")
    item = ReviewItemFactory(queue=closed)
    analyst_member = make_user("analyst", username="am")
    lead_member = make_user("lead", username="lm")
    lead_outsider = make_user("lead", username="lo")
    closed.members.add(analyst_member, lead_member)
    assert services.item_claim(user=analyst_member) is None  # lacks the role
    assert services.item_claim(user=lead_outsider) is None  # not a member
    assert services.item_claim(user=lead_member).item_id == item.pk


def test_claim_from_a_named_queue(analyst):
    ReviewItemFactory(priority=0.9)
    wanted = ReviewItemFactory(priority=0.1, queue=QueueFactory(slug="gambling"))
    assert services.item_claim(user=analyst, queue="gambling").item_id == wanted.pk


def test_queue_settings_are_validated(lead):
    queue = QueueFactory()
    with pytest.raises(services.QueueInvalid) as caught:
        services.queue_update(actor=lead, queue_id=queue.pk, gold_rate=0.9)
    assert caught.value.field == "gold_rate"


def _gold(lead, n, queue):
    answers = []
    for _ in range(n):
        merchant = MerchantFactory()
        ScoreFactory(merchant=merchant)
        answers.append(
            services.gold_create(
                actor=lead,
                merchant=merchant,
                data=services.LabelInput("prohibited", "weapons", "Known gun shop.", "x"),
                queue=queue,
            )
        )
    return answers


def test_gold_items_are_mixed_in_at_the_queue_rate_and_scored(analyst, lead):
    queue = QueueFactory(slug="mixed", gold_rate=0.2)
    _gold(lead, 80, queue)
    ReviewItemFactory.create_batch(300, queue=queue)
    services.chance.seed(7)
    served_gold = 0
    for _ in range(250):
        lease = services.item_claim(user=analyst)
        is_gold = ReviewItem.objects.get(pk=lease.item_id).gold_id is not None
        served_gold += is_gold
        decision = ("prohibited", "weapons") if served_gold % 2 else ("supportable", "none")
        _label(analyst, lease, decision[0], decision[1], "r")
    share = served_gold / 250
    assert 0.12 <= share <= 0.28, share
    gold_labels = Label.objects.filter(item__gold__isnull=False)
    assert gold_labels.count() == served_gold
    assert set(gold_labels.values_list("gold_correct", flat=True)) == {True, False}
    assert not Label.objects.filter(item__gold__isnull=True, gold_correct__isnull=False).exists()
    # Gold items stay in the queue for the next analyst, and look like any other item.
    assert not ReviewItem.objects.filter(gold__isnull=False).exclude(status="queued").exists()
    assert set(ReviewItem.objects.filter(gold__isnull=False).values_list("reason", flat=True)) == {
        ReviewItem.Reason.FLAGGED
    }


def test_an_analyst_gets_each_gold_item_once(analyst, lead):
    queue = QueueFactory(slug="g", gold_rate=0.5)
    _gold(lead, 1, queue)
    ReviewItemFactory.create_batch(40, queue=queue)
    services.chance.seed(3)
    for _ in range(40):
        _label(analyst, services.item_claim(user=analyst), "supportable", "none", "")
    assert Label.objects.filter(analyst=analyst, item__gold__isnull=False).count() == 1


def test_gold_needs_a_rationale_and_a_free_merchant(analyst, lead):
    item = ReviewItemFactory()
    services.item_claim(user=analyst)
    with pytest.raises(services.LabelInvalid) as caught:
        services.gold_create(
            actor=lead,
            merchant=item.merchant,
            data=services.LabelInput("prohibited", "weapons", "Gun shop.", "x"),
        )
    assert caught.value.field == "merchant"


def test_reprioritise_updates_open_items_in_bulk(analyst):
    items = ReviewItemFactory.create_batch(5, priority=0.1)
    done = ReviewItemFactory(priority=0.1, status=ReviewItem.Status.DONE)
    rows = [(item.pk, 0.5 + i / 10, None) for i, item in enumerate(items)] + [(done.pk, 0.99, None)]
    assert services.items_reprioritise(rows=rows, batch_size=2) == 5
    assert [ReviewItem.objects.get(pk=i.pk).priority for i in items] == pytest.approx(
        [0.5, 0.6, 0.7, 0.8, 0.9]
    )
    assert ReviewItem.objects.get(pk=done.pk).priority == pytest.approx(0.1)
    assert services.item_claim(user=analyst).item_id == items[-1].pk


def test_reprioritise_from_a_new_models_scores(analyst):
    from tests.factories import ModelVersionFactory

    items = ReviewItemFactory.create_batch(4, priority=0.5)
    model = ModelVersionFactory()
    for i, item in enumerate(items):
        ScoreFactory(merchant=item.merchant, model_version=model, probability=i / 10)
    assert services.queue_reprioritise(model_version=model, batch_size=3) == 4
    for i, item in enumerate(items):
        item.refresh_from_db()
        assert item.priority == pytest.approx(i / 10)
        assert item.score.model_version_id == model.pk
    assert AuditEvent.objects.filter(verb="queue.reprioritise").exists()


def test_reflagging_combines_inclusion_probabilities(analyst):
    merchant = MerchantFactory()
    score = ScoreFactory(merchant=merchant, probability=0.1)
    services.items_enqueue(
        entries=[services.Enqueue(merchant.pk, score.pk, 0.1, 0.2, ReviewItem.Reason.AUDIT_SAMPLE)]
    )
    again = ScoreFactory(merchant=merchant, probability=0.8)
    services.items_enqueue(
        entries=[services.Enqueue(merchant.pk, again.pk, 0.8, 0.5, ReviewItem.Reason.UPSTREAM)]
    )
    item = ReviewItem.objects.get(merchant=merchant)
    assert item.propensity == pytest.approx(1 - 0.8 * 0.5)
    assert item.reason == ReviewItem.Reason.UPSTREAM and item.priority == pytest.approx(0.8)
    event = AuditEvent.objects.get(verb="item.reflag")
    assert event.before["propensity"] == pytest.approx(0.2)


def test_leased_item_keeps_the_score_its_analyst_sees(analyst):
    item = ReviewItemFactory(score__probability=0.3)
    lease = services.item_claim(user=analyst)
    newer = ScoreFactory(merchant=item.merchant, probability=0.99)
    services.items_enqueue(
        entries=[
            services.Enqueue(item.merchant_id, newer.pk, 0.99, 1.0, ReviewItem.Reason.UPSTREAM)
        ]
    )
    label, _ = _label(analyst, lease)
    assert label.score_seen == pytest.approx(0.3)


def test_idempotency_key_reused_for_another_label_is_a_conflict(analyst):
    ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    data = services.LabelInput("prohibited", "weapons", "Rifles.", "same-key")
    services.label_submit(user=analyst, item_id=lease.item_id, lease_token=lease.token, data=data)
    changed = services.LabelInput("prohibited", "drugs", "Rifles.", "same-key")
    with pytest.raises(services.IdempotencyConflict):
        services.label_submit(
            user=analyst, item_id=lease.item_id, lease_token=lease.token, data=changed
        )
    assert Label.objects.count() == 1


# The claim's statements, pinned: BEGIN/COMMIT and savepoints included. PostgreSQL runs
# the plain-SQL path (held lease, queues, roles, lock, lease, audit); SQLite the ORM one.
# A claim that draws a gold item makes one more query; the gold rate is 0 here.
# The audit event is an unsealed insert (the sealer links it into the chain later): on
# PostgreSQL inside the lease statement, on SQLite one statement of its own.
CLAIM_QUERIES = {"postgresql": 9, "sqlite": 12}


@pytest.mark.parametrize("queued", [3, 150])
def test_claim_query_count_is_pinned_whatever_the_queue_size(
    queued, make_user, django_assert_num_queries
):
    from django.db import connection

    ReviewItemFactory.create_batch(queued)
    services.queue_default().__class__.objects.update(gold_rate=0)
    user = make_user(username=f"u{queued}")
    with django_assert_num_queries(CLAIM_QUERIES[connection.vendor]):
        assert services.item_claim(user=user) is not None
