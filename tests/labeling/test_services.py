from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Label, Lease, ReviewItem
from supportability.models import AuditEvent
from tests.factories import ReviewItemFactory

pytestmark = pytest.mark.django_db


def _label(decision: str = "prohibited", category: str = "pseudo-pharmaceuticals", **kw):
    return services.LabelInput(
        decision=decision,
        category_slug=category,
        rationale=kw.get("rationale", "Sells research peptides for human use."),
        idempotency_key=kw.get("key", uuid.uuid4().hex),
    )


def test_claim_returns_highest_priority_item_and_leases_it(analyst):
    ReviewItemFactory(priority=0.2)
    top = ReviewItemFactory(priority=0.9)
    lease = services.item_claim(user=analyst)
    assert lease is not None and lease.item_id == top.pk
    top.refresh_from_db()
    assert top.status == ReviewItem.Status.LEASED
    assert lease.expires_at > timezone.now() + timedelta(minutes=9)
    assert AuditEvent.objects.filter(verb="item.claim", object_id=str(top.pk)).exists()


def test_claim_skips_items_held_by_others(make_user):
    first, second = make_user(username="a1"), make_user(username="a2")
    items = [ReviewItemFactory(priority=p) for p in (0.9, 0.8)]
    lease_1 = services.item_claim(user=first)
    lease_2 = services.item_claim(user=second)
    assert {lease_1.item_id, lease_2.item_id} == {i.pk for i in items}
    assert services.item_claim(user=make_user(username="a3")) is None


def test_claim_gives_back_the_live_lease_already_held(analyst):
    ReviewItemFactory.create_batch(2)
    first = services.item_claim(user=analyst)
    again = services.item_claim(user=analyst)
    assert again.pk == first.pk
    assert Lease.objects.filter(holder=analyst).count() == 1


def test_claim_never_returns_an_item_the_analyst_labelled(analyst):
    item = ReviewItemFactory(required_labels=2)
    lease = services.item_claim(user=analyst)
    services.label_submit(user=analyst, item_id=item.pk, lease_token=lease.token, data=_label())
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.QUEUED  # needs a second, independent label
    assert services.item_claim(user=analyst) is None


def test_label_completes_item_and_records_what_the_analyst_saw(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    label, created = services.label_submit(
        user=analyst, item_id=item.pk, lease_token=lease.token, data=_label()
    )
    assert created
    item.refresh_from_db()
    lease.refresh_from_db()
    assert item.status == ReviewItem.Status.DONE and item.label_count == 1
    assert lease.outcome == Lease.Outcome.LABELLED
    assert label.score_seen == pytest.approx(item.score.probability)
    assert label.model_version_seen_id == item.score.model_version_id
    assert label.policy_version.is_current
    assert label.seconds_spent >= 0
    event = AuditEvent.objects.get(verb="label.submit")
    assert event.actor == analyst and event.after["decision"] == "prohibited"
    assert event.merchant_id == item.merchant_id


def test_label_repeat_with_same_key_stores_one_label(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    data = _label(key="k-1")
    first, created_1 = services.label_submit(
        user=analyst, item_id=item.pk, lease_token=lease.token, data=data
    )
    second, created_2 = services.label_submit(
        user=analyst, item_id=item.pk, lease_token=lease.token, data=data
    )
    assert (created_1, created_2) == (True, False)
    assert first.pk == second.pk
    assert Label.objects.count() == 1


def test_label_from_another_analyst_is_refused(make_user):
    holder, other = make_user(username="h"), make_user(username="o")
    item = ReviewItemFactory()
    lease = services.item_claim(user=holder)
    with pytest.raises(services.LeaseLost, match="another analyst"):
        services.label_submit(user=other, item_id=item.pk, lease_token=lease.token, data=_label())
    assert not Label.objects.exists()


def test_label_on_expired_lease_is_refused(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.LeaseLost, match="expired"):
        services.label_submit(user=analyst, item_id=item.pk, lease_token=lease.token, data=_label())
    assert not Label.objects.exists()


@pytest.mark.parametrize(
    ("decision", "category", "rationale", "field"),
    [
        ("prohibited", "none", "x", "category"),
        ("restricted", "", "x", "category"),
        ("supportable", "gambling", "", "category"),
        ("prohibited", "weapons", "   ", "rationale"),
        ("unsure", "none", "", "rationale"),
        ("prohibited", "prohibited", "x", "category"),  # a family, not assignable
        ("prohibited", "no-such-category", "x", "category"),
        ("maybe", "none", "x", "decision"),
    ],
)
def test_invalid_label_names_the_field_and_writes_nothing(
    analyst, decision, category, rationale, field
):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    with pytest.raises(services.LabelInvalid) as caught:
        services.label_submit(
            user=analyst,
            item_id=item.pk,
            lease_token=lease.token,
            data=_label(decision, category, rationale=rationale),
        )
    assert caught.value.field == field
    assert not Label.objects.exists()
    lease.refresh_from_db()
    assert lease.outcome == Lease.Outcome.ACTIVE


def test_supportable_without_category_means_none(analyst):
    item = ReviewItemFactory()
    lease = services.item_claim(user=analyst)
    label, _ = services.label_submit(
        user=analyst,
        item_id=item.pk,
        lease_token=lease.token,
        data=_label("supportable", "", rationale=""),
    )
    assert label.category.slug == "none"


def test_release_returns_item_to_queue_for_colleagues_not_the_skipper(make_user):
    skipper, colleague = make_user(username="s"), make_user(username="c")
    item = ReviewItemFactory()
    lease = services.item_claim(user=skipper)
    services.lease_release(user=skipper, item_id=item.pk, lease_token=lease.token)
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.QUEUED
    assert services.item_claim(user=skipper) is None
    assert services.item_claim(user=colleague).item_id == item.pk
    assert AuditEvent.objects.filter(verb="item.release").count() == 1


def test_expired_leases_return_items_to_the_queue(make_user):
    holder = make_user(username="h")
    item = ReviewItemFactory()
    lease = services.item_claim(user=holder)
    assert services.leases_expire(now=timezone.now()) == 0
    assert services.leases_expire(now=lease.expires_at + timedelta(seconds=1)) == 1
    item.refresh_from_db()
    lease.refresh_from_db()
    assert item.status == ReviewItem.Status.QUEUED
    assert lease.outcome == Lease.Outcome.EXPIRED
    assert AuditEvent.objects.filter(verb="lease.expire", object_id=str(item.pk)).exists()
    with pytest.raises(services.LeaseLost):
        services.label_submit(user=holder, item_id=item.pk, lease_token=lease.token, data=_label())
