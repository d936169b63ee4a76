"""Undo: an analyst takes back the label they just made, while nothing has acted on it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Label, Lease, ReviewItem
from review.models import QaAudit
from supportability.models import AuditEvent
from tests.factories import ReviewItemFactory, label_through_services

pytestmark = pytest.mark.django_db


def _labelled(analyst, **item):
    """An item `analyst` labelled prohibited a moment ago, and the next item they now hold."""
    first = ReviewItemFactory(priority=0.9, **item)
    label = label_through_services(analyst, first, "prohibited", "gambling", "Casino chips.")
    nxt = ReviewItemFactory(priority=0.1)
    services.item_claim(user=analyst)
    return first, label, nxt


def test_undo_within_the_window_gives_the_item_back_on_a_fresh_lease(analyst):
    first, label, _ = _labelled(analyst)
    old_lease = label.lease_id
    undone = services.label_undo(user=analyst, label_id=label.pk)
    first.refresh_from_db()
    assert not Label.objects.filter(pk=label.pk).exists()
    assert (first.status, first.label_count) == (ReviewItem.Status.LEASED, 0)
    lease = Lease.objects.get(holder=analyst, outcome=Lease.Outcome.ACTIVE)
    assert lease.item_id == first.pk and lease.pk == undone.lease.pk and lease.pk != old_lease
    assert (undone.decision, undone.category_slug, undone.rationale) == (
        "prohibited",
        "gambling",
        "Casino chips.",
    )


def test_undo_returns_the_next_item_to_the_queue_without_a_skip(analyst):
    _, label, nxt = _labelled(analyst)
    services.label_undo(user=analyst, label_id=label.pk)
    nxt.refresh_from_db()
    assert nxt.status == ReviewItem.Status.QUEUED
    assert not Lease.objects.filter(item=nxt, outcome=Lease.Outcome.RELEASED).exists()


def test_undo_is_audited_with_the_label_as_before(analyst):
    first, label, _ = _labelled(analyst)
    services.label_undo(user=analyst, label_id=label.pk)
    event = AuditEvent.objects.get(verb="label.undo")
    assert event.actor == analyst and event.object_id == str(first.pk)
    assert event.before["label"] == label.pk
    assert (event.before["decision"], event.before["category"]) == ("prohibited", "gambling")
    assert event.before["rationale"] == "Casino chips."
    assert event.after["status"] == ReviewItem.Status.LEASED


def test_the_item_can_be_labelled_again_after_undo(analyst):
    first, label, _ = _labelled(analyst)
    undone = services.label_undo(user=analyst, label_id=label.pk)
    again, created = services.label_submit(
        user=analyst,
        item_id=first.pk,
        lease_token=undone.lease.token,
        data=services.LabelInput("restricted", "gambling", "Licensed casino.", "k-again"),
    )
    assert created and again.decision == "restricted"
    assert Label.objects.filter(item=first).count() == 1


def test_undo_is_refused_after_the_window(analyst):
    _, label, _ = _labelled(analyst)
    Label.objects.filter(pk=label.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    with pytest.raises(services.UndoRefused, match="Too late"):
        services.label_undo(user=analyst, label_id=label.pk)
    assert Label.objects.filter(pk=label.pk).exists()
    assert not AuditEvent.objects.filter(verb="label.undo").exists()


def test_undo_is_refused_for_another_analyst(analyst, make_user):
    _, label, _ = _labelled(analyst)
    other = make_user(username="other")
    with pytest.raises(services.UndoRefused, match="no label of yours"):
        services.label_undo(user=other, label_id=label.pk)
    assert Label.objects.filter(pk=label.pk).exists()


def test_undo_is_refused_once_a_colleague_opened_the_item(analyst, make_user):
    first = ReviewItemFactory(priority=0.9, required_labels=2)
    label = label_through_services(analyst, first, "prohibited", "gambling")
    colleague = make_user(username="colleague")
    assert services.item_claim(user=colleague).item_id == first.pk
    with pytest.raises(services.UndoRefused, match="opened this merchant since"):
        services.label_undo(user=analyst, label_id=label.pk)
    first.refresh_from_db()
    assert first.label_count == 1 and Label.objects.filter(pk=label.pk).exists()


def test_undo_is_refused_once_a_lead_drew_the_label_for_audit(analyst, lead):
    first, label, _ = _labelled(analyst)
    QaAudit.objects.create(
        label=label,
        item=first,
        merchant=first.merchant,
        analyst=analyst,
        rate=1.0,
        status=QaAudit.Status.PENDING,
        drawn_at=timezone.now(),
    )
    with pytest.raises(services.UndoRefused, match="taken it up"):
        services.label_undo(user=analyst, label_id=label.pk)


def test_undo_is_refused_when_the_item_moved_on(analyst):
    first, label, _ = _labelled(analyst)
    ReviewItem.objects.filter(pk=first.pk).update(status=ReviewItem.Status.ESCALATED)
    with pytest.raises(services.UndoRefused, match="moved on"):
        services.label_undo(user=analyst, label_id=label.pk)


def test_the_second_blind_label_cannot_be_taken_back(analyst, make_user):
    """The second analyst would see how the item settled (agreed, or to a lead) and could
    relabel to match the first: blind labelling would not hold."""
    first_analyst = make_user(username="first")
    item = ReviewItemFactory(priority=0.9, required_labels=2)
    label_through_services(first_analyst, item, "prohibited", "gambling", "Casino.")
    second = label_through_services(analyst, item, "supportable", "none")
    with pytest.raises(services.UndoRefused, match="colleague labelled this merchant before"):
        services.label_undo(user=analyst, label_id=second.pk)
    assert Label.objects.filter(pk=second.pk).exists()


def test_undo_is_refused_once_the_consensus_counted_the_label(analyst):
    from review import services as review

    first, label, _ = _labelled(analyst)
    review.clean_labels_refresh()
    with pytest.raises(services.UndoRefused, match="consensus has been computed"):
        services.label_undo(user=analyst, label_id=label.pk)
    first.refresh_from_db()
    assert first.label_count == 1
