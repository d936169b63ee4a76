"""Scenario 1: the broker (Redis) stops while four analysts label and a lead asks for a
retraining, then starts again, empty. Every label is stored, every request answered
without a server error, the retraining completes once, no run is stuck, and nothing is
left unpublished after the relay's next tick."""

from __future__ import annotations

import time

import pytest

from review.demo.seeding import demo_seed
from supportability.models import OutboxMessage, TrainingRun
from supportability.outbox import outbox_relay
from supportability.services import token_create
from tests.clients import logged_in
from tests.factories import UserFactory
from tests.faults import harness
from tests.faults.harness import say

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy", "fast_clocks", "celery_not_eager"),
]
OUTAGE_SECONDS = 6


def test_a_broker_outage_loses_no_label_and_runs_the_retraining_once(
    lead, live_server, database_url, redis_server, logs
):
    from labeling.models import Label

    demo_seed(merchants=1_200, seed=5, history=False)
    tokens = []
    for i in range(4):
        analyst = UserFactory(username=f"outage-analyst-{i}", role="analyst")
        tokens.append(token_create(name=f"outage-{i}", scopes=["queue:work"], user=analyst)[1])
    env = harness.process_env(database_url, redis_server.url)
    worker, relay = harness.worker(env, logs), harness.relay(env, logs)
    worker.start()
    relay.start()
    harness.wait_until_consuming(worker)
    tally = harness.Tally()
    try:
        with harness.analysts(live_server.url, tokens, tally):
            harness.wait_for(lambda: len(tally.labelled) >= 8, timeout=60, what="labels")
            redis_server.stop()
            before = len(tally.labelled)
            say(f"redis stopped after {before} labels; 4 analysts keep labelling")
            lead_client = logged_in(lead)
            answer = lead_client.post("/lead/retrain/", HTTP_HX_REQUEST="true")
            assert answer.status_code == 200
            assert "queued, waiting for workers" in answer.content.decode()
            assert lead_client.post("/lead/agreement/recompute/").status_code == 302
            say("retrain and recompute requested with the broker down: both answered")
            time.sleep(OUTAGE_SECONDS)
            during = len(tally.labelled) - before
            waiting = list(
                OutboxMessage.objects.filter(started_at__isnull=True).values_list("task", flat=True)
            )
            say(f"{during} labels stored during the outage; waiting: {waiting}")
            redis_server.start()
            back = time.monotonic()
            say("redis started again (empty: it keeps nothing on disk)")
            run = harness.wait_for(
                lambda: TrainingRun.objects.filter(holds_lock=False).first(),
                timeout=180,
                what="the retraining to end",
            )
            completed = time.monotonic() - back
            say(f"retraining #{run.pk} {run.status} {completed:.1f} s after the broker returned")
            # Everything asked for during the outage ran: the recompute too.
            harness.wait_for(
                lambda: not OutboxMessage.objects.filter(done_at__isnull=True).exists(),
                timeout=120,
                what="every outbox message done",
            )
    except Exception:
        harness.post_mortem([worker, relay])
        raise
    finally:
        worker.stop()
        relay.stop()
    stored = set(Label.objects.values_list("id", flat=True))
    outbox_relay()  # the relay's next tick
    unsent = OutboxMessage.objects.filter(done_at__isnull=True, published_at__isnull=True)
    say(
        f"checked: {len(tally.labelled)} labels confirmed, all stored: "
        f"{set(tally.labelled) <= stored}; statuses {tally.statuses}; "
        f"request errors {len(tally.errors)}; unsent after a tick: {unsent.count()}"
    )
    assert during > 0
    assert set(tally.labelled) <= stored
    assert tally.server_errors == 0 and tally.errors == []
    assert TrainingRun.objects.count() == 1
    assert run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.HELD), run.message
    assert not TrainingRun.objects.filter(holds_lock=True).exists()
    assert unsent.count() == 0
    assert set(OutboxMessage.objects.values_list("outcome", flat=True)) == {"done"}
