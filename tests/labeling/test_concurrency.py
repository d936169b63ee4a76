"""Many analysts claiming at once on PostgreSQL: FOR UPDATE SKIP LOCKED must never hand one
item to two people."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from labeling import services
from labeling.models import Lease
from tests.factories import ReviewItemFactory, UserFactory

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
