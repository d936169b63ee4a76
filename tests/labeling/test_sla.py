"""Queue SLA: items waiting past their queue's target move ahead once; the lead's overview
counts them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import ReviewItem
from labeling.selectors import queue_stats, queue_stats_by_queue
from labeling.services.sla import SLA_BOOST, sla_breaches_raise
from supportability.models import AuditEvent
from tests.factories import QueueFactory, ReviewItemFactory

pytestmark = pytest.mark.django_db


def _aged(hours, **fields):
    item = ReviewItemFactory(**fields)
    ReviewItem.objects.filter(pk=item.pk).update(queued_at=timezone.now() - timedelta(hours=hours))
    item.refresh_from_db()
    return item


def test_a_breach_raises_the_priority_once():
    late = _aged(25, priority=0.3)
    assert sla_breaches_raise() == 1
    late.refresh_from_db()
    assert late.priority == pytest.approx(0.3 + SLA_BOOST)
    assert late.sla_breached_at is not None
    assert sla_breaches_raise(now=timezone.now() + timedelta(hours=5)) == 0  # idempotent
    late.refresh_from_db()
    assert late.priority == pytest.approx(0.3 + SLA_BOOST)


def test_a_raised_item_is_claimed_before_fresher_higher_scored_ones():
    late = _aged(25, priority=0.1)
    _aged(1, priority=0.99)
    sla_breaches_raise()
    first = ReviewItem.objects.filter(status=ReviewItem.Status.QUEUED).order_by("-priority").first()
    assert first == late


def test_the_raise_is_one_audit_event_with_the_count_and_the_items():
    items = [_aged(30), _aged(26)]
    _aged(2)
    sla_breaches_raise()
    event = AuditEvent.objects.get(verb="queue.sla_breach")
    assert event.after["raised"] == 2
    assert sorted(event.after["items"]) == sorted(i.pk for i in items)
    assert event.actor is None and event.actor_label == "system"


def test_items_within_target_leased_or_gold_are_left_alone():
    fresh = _aged(2)
    leased = _aged(30, status=ReviewItem.Status.LEASED)
    assert sla_breaches_raise() == 0
    fresh.refresh_from_db()
    leased.refresh_from_db()
    assert fresh.sla_breached_at is None and leased.sla_breached_at is None
    assert not AuditEvent.objects.filter(verb="queue.sla_breach").exists()


def test_each_queue_has_its_own_target():
    fast = QueueFactory(slug="fast", sla_minutes=30)
    quick = _aged(1, queue=fast)
    slow = _aged(1)  # the default queue: 24 h
    assert sla_breaches_raise() == 1
    quick.refresh_from_db()
    slow.refresh_from_db()
    assert quick.sla_breached_at is not None and slow.sla_breached_at is None


def test_queue_stats_count_queued_items_past_the_target():
    fast = QueueFactory(slug="fast", sla_minutes=60)
    _aged(2, queue=fast)
    _aged(0.5, queue=fast)
    _aged(2, queue=fast, status=ReviewItem.Status.LEASED)  # being worked: not waiting
    _aged(2)  # the default queue's 24 h are not up
    by_slug = {s.queue.slug: s for s in queue_stats_by_queue()}
    assert (by_slug["fast"].sla_minutes, by_slug["fast"].breached) == (60, 1)
    assert by_slug["general"].breached == 0
    assert queue_stats().breached == 1


def test_the_beat_runs_the_raise_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["raise-sla-breaches"]
    assert entry == {"task": "labeling.tasks.sla_breaches_raise", "schedule": 60.0}


def test_a_new_models_reranking_keeps_the_raise_of_an_item_past_its_sla():
    from labeling.services import queue_reprioritise
    from tests.factories import ModelVersionFactory, ScoreFactory

    late, fresh = _aged(30, priority=0.2), _aged(1, priority=0.2)
    sla_breaches_raise()
    model = ModelVersionFactory()
    ScoreFactory(merchant=late.merchant, model_version=model, probability=0.4)
    ScoreFactory(merchant=fresh.merchant, model_version=model, probability=0.9)
    queue_reprioritise(model_version=model, actor=None)
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert late.priority == pytest.approx(0.4 + SLA_BOOST)  # the new score, still raised
    assert fresh.priority == pytest.approx(0.9)
