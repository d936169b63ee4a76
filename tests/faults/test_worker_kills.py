"""Scenario 2: kill -9 of the Celery worker during each retraining step (train, evaluate,
rescore, re-prioritise), 20 times. Exactly one model version per run, never a
half-promoted model, rescoring applied once, no run stuck. bench/faults.py runs it 100
times."""

from __future__ import annotations

import pytest

from review.demo.seeding import demo_seed
from tests.faults import harness, kills
from tests.faults.harness import say

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy", "fast_clocks", "celery_not_eager"),
]

# Per retraining: the pool process killed during train, evaluate and rescore (Celery puts
# the task back at once; the redelivery waits out the dead one's heartbeat and takes
# over), and the whole worker killed during re-prioritisation (nothing redelivers it: the
# run is recovered as failed once silent and a lead retries it).
PLAN = [("train", False), ("evaluate", False), ("rescore", False), ("reprioritise", True)]
RUNS = 5  # 20 kills


def test_kill_9_of_the_worker_during_each_step_loses_nothing_and_doubles_nothing(
    lead, database_url, redis_server, logs
):
    demo_seed(merchants=1_200, seed=5, history=False)
    env = harness.process_env(database_url, redis_server.url)
    relay = harness.relay(env, logs)
    relay.start()
    start_worker = harness.worker_starter(env, logs)
    worker = start_worker()
    report = kills.KillReport()
    runs = []
    try:
        for _ in range(RUNS):
            taken, worker = kills.retrain_through_kills(
                lead=lead, plan=PLAN, report=report, worker_process=worker, restart=start_worker
            )
            runs.extend(taken)
    except Exception:
        harness.post_mortem([worker, relay])
        raise
    finally:
        worker.stop()
        relay.stop()
    problems = kills.check_runs(runs)
    say(
        f"{report.kills} kills ({report.pool_process} pool process, {report.whole_worker} whole"
        f" worker), {report.mid_step} mid-step; {report.recovered_as_failed} runs recovered as"
        f" failed and retried; {len(runs)} runs checked: {problems or 'all invariants hold'}"
    )
    assert report.kills == 4 * RUNS
    assert report.mid_step >= report.kills // 2  # the kills hit running steps
    # A whole-worker kill mid-step leaves its run to the recovery (one after the step
    # ended costs nothing); a pool-process kill never does.
    assert report.recovered_as_failed == report.whole_worker_mid_step
    assert problems == []
