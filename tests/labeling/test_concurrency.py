"""Many analysts claiming at once on PostgreSQL: FOR UPDATE SKIP LOCKED must never hand one
item to two people."""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from uuid import uuid4

import numpy as np
import pytest
from django.db import connection

from labeling import services
from labeling.models import Draw, Label, Lease, ReviewItem
from supportability.models import Merchant
from tests.factories import ReviewItemFactory, UserFactory, scored_population

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_eight_threads_claim_two_hundred_items_without_a_duplicate():
    items = ReviewItemFactory.create_batch(200)
    for i, item in enumerate(items):  # many ties at the top, the hard case for contention
        item.priority = 0.5 + (i % 3) / 10
        item.save(update_fields=["priority"])
    analysts = [UserFactory(username=f"t{i}") for i in range(8)]
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(analysts))

    def work(user) -> None:
        try:
            start.wait()
            while True:
                lease = services.item_claim(user=user)
                if lease is None:
                    return
                with lock:
                    claimed.append(lease.item_id)
                # Label it, so the analyst's next claim takes a new item.
                services.label_submit(
                    user=user,
                    item_id=lease.item_id,
                    lease_token=lease.token,
                    data=services.LabelInput("supportable", "none", "", f"{user.pk}-{lease.pk}"),
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in analysts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    duplicates = [item for item, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert sorted(claimed) == sorted(item.pk for item in items)
    assert Lease.objects.filter(outcome="labelled").count() == 200
    # Every analyst got work: skip-locked spreads the claims rather than serialising them.
    holders = Counter(Lease.objects.values_list("holder_id", flat=True))
    assert len(holders) == len(analysts)


def _threads(n, target, *args):
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i):
        try:
            start.wait()
            target(i, *args)
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_random_claims_releases_expiries_and_labels_lose_nothing():
    """A property over random schedules: whatever mix of claims, skips, lapsed leases and
    labels many analysts produce, no item is ever held by two at once, no item gets more
    labels than it needs, and every item ends labelled k times or back in the queue."""
    from datetime import timedelta

    from django.utils import timezone

    items = ReviewItemFactory.create_batch(120)
    for item in items[::4]:
        item.required_labels = 2
        item.save(update_fields=["required_labels"])
    analysts = [UserFactory(username=f"p{i}") for i in range(6)]

    def work(i, seed):
        rng = random.Random(seed * 100 + i)
        user = analysts[i]
        for _ in range(60):
            lease = services.item_claim(user=user)
            if lease is None:
                return
            roll = rng.random()
            if roll < 0.15:
                services.lease_release(user=user, item_id=lease.item_id, lease_token=lease.token)
            elif roll < 0.25:
                # Walk away: the lease lapses and the reaper takes the item back.
                Lease.objects.filter(pk=lease.pk).update(
                    expires_at=timezone.now() - timedelta(seconds=1)
                )
                services.leases_expire()
            else:
                # The reaper of another thread may have taken a lapsed lease.
                with contextlib.suppress(services.LeaseLost):
                    services.label_submit(
                        user=user,
                        item_id=lease.item_id,
                        lease_token=lease.token,
                        data=services.LabelInput("supportable", "none", "", f"{seed}-{uuid4()}"),
                    )

    for seed in (1, 2):
        assert _threads(len(analysts), work, seed) == []
    overlapping = Lease.objects.raw(
        "SELECT a.id FROM labeling_lease a JOIN labeling_lease b"
        " ON a.item_id = b.item_id AND a.id < b.id"
        " AND a.claimed_at < COALESCE(b.ended_at, 'infinity')"
        " AND b.claimed_at < COALESCE(a.ended_at, 'infinity')"
    )
    assert list(overlapping) == []
    for item in ReviewItem.objects.all():
        labels = item.labels.count()
        assert labels == item.label_count <= item.required_labels
        if item.status == ReviewItem.Status.DONE:
            assert labels == item.required_labels
        else:
            assert item.status in (ReviewItem.Status.QUEUED, ReviewItem.Status.LEASED)
            assert labels < item.required_labels
        active = item.leases.filter(outcome="active").count()
        assert active == (1 if item.status == ReviewItem.Status.LEASED else 0)


def test_two_tabs_of_one_analyst_get_the_same_item():
    ReviewItemFactory.create_batch(10)
    user = UserFactory(username="tabs")
    got: list[int] = []

    def claim(i):
        got.append(services.item_claim(user=user).item_id)

    for _ in range(5):
        assert _threads(2, claim) == []
        assert len(set(got)) == 1
        assert Lease.objects.filter(holder=user, outcome="active").count() == 1
        lease = Lease.objects.get(holder=user, outcome="active")
        services.lease_release(user=user, item_id=lease.item_id, lease_token=lease.token)
        got.clear()


def test_double_submit_stores_one_label_and_both_succeed():
    user = UserFactory(username="double")
    for _ in range(5):
        ReviewItemFactory()
        lease = services.item_claim(user=user)
        data = services.LabelInput("prohibited", "weapons", "Rifles.", uuid4().hex)
        results: list[tuple[int, bool]] = []

        def submit(i, lease=lease, data=data, results=results):
            label, created = services.label_submit(
                user=user, item_id=lease.item_id, lease_token=lease.token, data=data
            )
            results.append((label.pk, created))

        assert _threads(2, submit) == []
        assert len({pk for pk, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, True]
    assert Label.objects.filter(analyst=user).count() == 5


def test_concurrent_intakes_of_the_same_new_merchants_do_not_fail():
    from labeling.services import flags_ingest

    service = UserFactory(username="svc-up", role="service")

    def rows(batch):
        return [
            {
                "merchant": {
                    "external_id": f"NEW-{i}",
                    "name": f"New {i}",
                    "country": "US",
                    "mcc": "5999",
                },
                "model": {"name": "up", "version": f"v{batch}"},
                "score": 0.7,
            }
            for i in range(20)
        ]

    def ingest(i):
        flags_ingest(rows=rows(i), actor=service)

    assert _threads(4, ingest) == []
    assert ReviewItem.objects.filter(merchant__external_id__startswith="NEW-").count() == 20


def test_draws_into_two_queues_and_an_upstream_intake_at_once_queue_no_merchant_twice():
    """The beat, a lead's button and an upstream detector can all queue merchants at the
    same moment: draws share a lock and take the intake's per-merchant locks, so whoever
    comes second finds the merchant queued and merges into its item (a drawn merchant is
    then marked reused), and the one-open-item constraint is never hit."""
    from labeling.models import Queue
    from labeling.services.intake import MERCHANT_FIELDS

    scored_population(300, seed=8)
    general = services.queue_default()
    other = Queue.objects.create(slug="second", name="Second", draw_capacity=120)
    Queue.objects.filter(pk=general.pk).update(draw_capacity=120)
    merchants = list(Merchant.objects.order_by("id")[:150])
    rows = [
        {
            "merchant": {"external_id": m.external_id}
            | {f: getattr(m, f) for f in MERCHANT_FIELDS},
            "model": {"name": "upstream", "version": "1"},
            "score": 0.9,
        }
        for m in merchants
    ]
    rounds: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def draw(queue_id: int, seed: int) -> None:
        try:
            start.wait()
            drawn = services.queue_draw(queue_id=queue_id, rng=np.random.default_rng(seed))
            rounds.append(drawn.pk)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    def ingest() -> None:
        try:
            start.wait()
            services.flags_ingest(rows=rows, actor=None)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=draw, args=(general.pk, 1)),
        threading.Thread(target=draw, args=(other.pk, 2)),
        threading.Thread(target=ingest),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    open_items = Counter(
        ReviewItem.objects.filter(status="queued").values_list("merchant_id", flat=True)
    )
    assert max(open_items.values()) == 1
    for round_id in rounds:
        draws = Draw.objects.filter(sampling_round_id=round_id)
        created = set(
            ReviewItem.objects.filter(sampling_round_id=round_id).values_list(
                "merchant_id", flat=True
            )
        )
        # A draw is new exactly when its round created the merchant's item.
        assert {d.merchant_id for d in draws if not d.reused} == created
        assert all(d.item_id is not None for d in draws)
