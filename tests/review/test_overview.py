"""The lead's overview: its read model, the page, and its query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Label, ReviewItem
from review import services
from review.pages.overview import overview
from review.services.quality import active_seconds, labels_per_active_hour
from tests.clients import logged_in
from tests.factories import QueueFactory, ReviewItemFactory, escalated_item, label_through_services

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(hour=10, minute=55, second=0, microsecond=0)


def _at(minutes: float):
    return T0 + timedelta(minutes=minutes)


# Labels per active hour, against a hand-made day ---------------------------------------


def test_active_time_counts_gaps_up_to_ten_minutes_and_the_item_time_after_a_break():
    # Ten labels a minute apart across 10:55-11:04 (the old clock-hour count made this two
    # active hours), a 40-minute break, then two more two minutes apart.
    moments = [(_at(m), 50.0) for m in range(10)] + [(_at(50), 90.0), (_at(52), 70.0)]
    # First label: its own 50 s; nine gaps of 60 s; after the break its own 90 s; then 120 s.
    assert active_seconds(moments) == 50 + 9 * 60 + 90 + 120


def test_labels_per_active_hour_is_labels_over_active_hours():
    assert labels_per_active_hour(12, 800.0) == pytest.approx(12 / (800 / 3600))  # 54 an hour


def test_labels_per_active_hour_says_nothing_under_five_minutes():
    assert labels_per_active_hour(100, 299.0) is None


def test_quality_run_stores_the_rate_from_active_time(make_user):
    ann = make_user("analyst", username="ann")
    for minute in range(10):
        label_through_services(
            ann, ReviewItemFactory(priority=1 - minute / 100), "supportable", "none"
        )
    for minute, label in enumerate(Label.objects.order_by("id")):
        Label.objects.filter(pk=label.pk).update(created_at=_at(minute), seconds_spent=50.0)
    run = services.quality_compute(now=_at(20))
    quality = run.analysts.get()
    assert quality.throughput == pytest.approx(10 / ((50 + 9 * 60) / 3600))  # 61 an hour


# The read model -------------------------------------------------------------------------


def test_queue_past_its_sla_is_counted_and_flagged():
    queue = QueueFactory(name="Urgent", sla_minutes=30)
    old = ReviewItemFactory(queue=queue)
    ReviewItem.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(minutes=45))
    ReviewItemFactory(queue=queue)
    page = overview()
    line = next(q for q in page.queues if q.stats.queue == queue)
    assert (line.stats.queued, line.stats.breached, line.stats.sla_minutes) == (2, 1, 30)
    assert line.oldest_minutes == 45 and line.oldest_over_sla
    assert page.breached >= 1


def test_throughput_per_analyst_and_per_day(make_user):
    ann, bob = make_user("analyst", username="ann"), make_user("analyst", username="bob")
    for n in range(3):
        label_through_services(ann, ReviewItemFactory(priority=0.9 - n / 10), "supportable", "none")
    label_through_services(bob, ReviewItemFactory(priority=0.1), "supportable", "none")
    page = overview()
    assert [(a.username, a.labels) for a in page.analysts] == [("ann", 3), ("bob", 1)]
    assert page.per_day.columns[-1].value == 4 == page.labels_today
    assert len(page.per_day.columns) == 14


def test_missing_trends_say_why():
    page = overview()
    assert page.agreement is None and "runs every 15 minutes" in page.agreement_why
    assert page.gold is None and "gold rate" in page.gold_why


def test_agreement_trend_draws_the_days_run(make_user):
    analysts = [make_user("analyst", username=n) for n in ("ann", "bob")]
    for index in range(4):
        answers = [("supportable", "none"), ("restricted", "gambling")][index % 2]
        escalated_item(analysts, [answers, answers], priority=0.9 - index / 10)
    escalated_item(analysts, [("supportable", "none"), ("restricted", "gambling")], priority=0.1)
    services.quality_compute()
    page = overview()
    assert page.agreement is not None
    assert [s.name for s in page.agreement.series] == ["kappa", "alpha", "AC1"]
    assert all(len(s.points) == 1 for s in page.agreement.series)


# The page -------------------------------------------------------------------------------


def test_overview_page_shows_the_key_figures(lead, make_user):
    queue = QueueFactory(name="Urgent", sla_minutes=30)
    old = ReviewItemFactory(queue=queue)
    ReviewItem.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(hours=2))
    html = logged_in(lead).get("/lead/").content.decode()
    assert html.count("<h1") == 1
    row = html[html.index('data-queue="' + queue.slug + '"') :]
    row = row[: row.index("</tr>")]
    assert "⚠ 1" in row and 'class="over"' in row  # highlighted, not by colour alone
    assert "30 minutes" in row and "120 min" not in row and "2 h" in row  # in words
    assert "item past SLA" in html
    for section in ("queues", "chain", "throughput", "quality", "estimates", "recent"):
        assert f'id="{section}"' in html
    assert 'id="retrain"' in html  # the Retrain button
    assert "—" not in html.replace("— ", "")  # no bare dash


def test_recent_labels_load_on_demand(lead):
    html = logged_in(lead).get("/lead/").content.decode()
    assert 'id="labels-table"' not in html  # not on the page until opened
    assert 'hx-get="/lead/labels/"' in html


def test_overview_query_count_is_fixed(lead, make_user, django_assert_num_queries):
    ann = make_user("analyst", username="ann")
    queue = QueueFactory(name="Second")
    for n in range(3):
        label_through_services(ann, ReviewItemFactory(priority=0.9 - n / 10), "supportable", "none")
    ReviewItemFactory(queue=queue)
    services.quality_compute()
    client = logged_in(lead)
    client.get("/lead/")
    # Session, user, roles; queues and their counts; labels of 14 days; agreement trend;
    # models; the latest run, the outbox; the latest events and the users they name (with
    # groups); data issues; the estimates' fingerprint (they are computed again only when
    # a round, a clean label or the champion changed) and the automation-bias comparison.
    with django_assert_num_queries(17):
        assert client.get("/lead/").status_code == 200
    for n in range(3):
        label_through_services(
            ann, ReviewItemFactory(priority=0.99 - n / 100), "restricted", "gambling"
        )
    services.quality_compute()
    with django_assert_num_queries(17):  # more labels, runs and events: the same queries
        client.get("/lead/")
    services.clean_labels_refresh()  # new clean labels: the estimates are computed again
    with django_assert_num_queries(21):
        client.get("/lead/")
