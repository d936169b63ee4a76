"""Several leads working the adjudication queue at once on PostgreSQL: each escalation is
leased to one lead and decided once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from labeling.models import ReviewItem
from review import services
from review.models import Adjudication
from tests.factories import ReviewItemFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_six_leads_adjudicate_forty_escalations_without_a_duplicate():
    items = ReviewItemFactory.create_batch(40, status=ReviewItem.Status.ESCALATED, priority=0.5)
    leads = [UserFactory(username=f"lead{i}", role="lead") for i in range(6)]
    claimed: list[int] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(len(leads))

    def work(user) -> None:
        try:
            start.wait()
            while True:
                lease = services.lead_claim(user=user, work=services.Work.ADJUDICATE)
                if lease is None:
                    return
                with guard:
                    claimed.append(lease.item_id)
                services.adjudication_submit(
                    user=user,
                    item_id=lease.item_id,
                    lease_token=lease.token,
                    data=services.Decided("supportable", "none", "checked"),
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert [item for item, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == sorted(item.pk for item in items)
    assert Adjudication.objects.count() == 40
    assert not ReviewItem.objects.filter(status=ReviewItem.Status.ESCALATED).exists()
