"""Long fault runs on PostgreSQL, with real processes (tests/faults/ runs the short ones in
CI):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/supportability \\
        .venv/bin/python bench/faults.py --kills 100 --outage-seconds 300 --analysts 16

1. Kills: retrainings with a kill -9 aimed at each of train, evaluate, rescore and
   re-prioritise, until --kills kills. In each run one step (a different one each run)
   loses its whole worker (restarted; the run is recovered as failed once silent and a
   lead retries it) and the others lose only the pool process running them (Celery puts
   the task back; the redelivery waits out the dead one's heartbeat). Checked: one model
   version per run, one champion, every scorable merchant scored once, no run stuck.
2. Outage: --analysts analysts label over HTTP (gunicorn) while the broker (a private
   redis-server, no persistence) is stopped for --outage-seconds; a lead asks for a
   retraining and a statistics recompute at the start of the outage. Checked: every
   label the API confirmed is stored, no server error, the retraining completes once,
   nothing is left unsent; measured: labels stored during the outage, and the time from
   the broker's return to the retraining's end.

Runs in a database of its own beside DATABASE_URL's (dropped afterwards). `--smoke`: 4
kills, a 5-second outage, 4 analysts, on 1,200 merchants.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import smoke
from tests.faults import harness, kills
from tests.faults.harness import say

SMOKE = {"kills": 4, "outage_seconds": 5.0, "analysts": 4, "merchants": 1_200, "think": 0.0}
STEPS = list(kills.KILL_STEPS)
NO_KILLS = {
    "report": kills.KillReport(),
    "runs": 0,
    "problems": [],
    "minutes": 0.0,
    "resume_median": 0.0,
    "resume_max": 0.0,
}
SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "supportability.settings.production",
    "SECRET_KEY": "bench-only-secret",
    "AUDIT_CHECKPOINT_KEY": "bench-only-checkpoint-key-0123456789",
    "DEBUG": "0",
    "SECURE_COOKIES": "0",  # plain HTTP on loopback
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "CELERY_TASK_ALWAYS_EAGER": "0",
}


def setup(url: str, redis_url: str, merchants: int, analysts: int) -> dict[str, Any]:
    os.environ.update(SETTINGS | harness.FAST_CLOCKS)
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = redis_url
    import django

    django.setup()
    from django.core.management import call_command

    from review.demo.seeding import demo_seed
    from supportability.roles import Role
    from supportability.services import token_create, user_create

    call_command("migrate", verbosity=0)
    demo_seed(merchants=merchants, seed=5, history=False)
    lead, _ = user_create(username="bench-lead", role=Role.LEAD, password="bench-lead-pw")
    tokens = []
    for i in range(analysts):
        analyst, _ = user_create(username=f"bench-analyst-{i}", role=Role.ANALYST)
        tokens.append(token_create(name=f"bench-{i}", scopes=["queue:work"], user=analyst)[1])
    return {"lead": lead, "tokens": tokens}


def kill_phase(target: int, lead: Any, env: dict[str, str], logs: Path) -> dict[str, Any]:
    relay = harness.relay(env, logs)
    relay.start()
    start_worker = harness.worker_starter(env, logs)
    worker = start_worker()
    report = kills.KillReport()
    runs: list[Any] = []
    started = time.monotonic()
    try:
        index = 0
        while report.kills < target:
            whole = STEPS[index % len(STEPS)]
            plan = [(step, step == whole) for step in STEPS][: target - report.kills]
            taken, worker = kills.retrain_through_kills(
                lead=lead, plan=plan, report=report, worker_process=worker, restart=start_worker
            )
            runs.extend(taken)
            index += 1
    finally:
        worker.stop()
        relay.stop()
    problems = kills.check_runs(runs)
    seconds = report.seconds_to_resume
    return {
        "report": report,
        "runs": len(runs),
        "problems": problems,
        "minutes": (time.monotonic() - started) / 60,
        "resume_median": sorted(seconds)[len(seconds) // 2] if seconds else 0.0,
        "resume_max": max(seconds, default=0.0),
    }


def fill_queue() -> int:
    """Queue every merchant the champion scored that has no open item, so that the
    analysts have work for the whole outage (the demo's queue holds a few rounds)."""
    from django.db import transaction

    from labeling.models import ReviewItem
    from labeling.services import Enqueue, items_enqueue
    from supportability.models import Score
    from supportability.services import champion

    model = champion()
    open_items = ReviewItem.objects.filter(status__in=["queued", "leased"])
    scores = Score.objects.filter(model_version=model).exclude(
        merchant_id__in=open_items.values("merchant_id")
    )
    entries = [
        Enqueue(merchant_id=m, score_id=s, priority=p, propensity=1.0, reason="flagged")
        for m, s, p in scores.values_list("merchant_id", "id", "probability")
    ]
    with transaction.atomic():
        items_enqueue(entries=entries)
    return ReviewItem.objects.filter(status="queued").count()


def outage(
    seconds: float,
    tokens: list[str],
    env: dict[str, str],
    logs: Path,
    redis: harness.RedisServer,
    *,
    think: float,
) -> dict[str, Any]:

    from django.utils import timezone

    from labeling.models import Label
    from supportability.models import OutboxMessage, TrainingRun
    from supportability.outbox import outbox_relay

    port = harness.free_port()
    web = harness.Process(
        "web",
        [harness.PYTHON, "-m", "gunicorn", "supportability.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4"],
        env,
        logs,
    )  # fmt: skip
    worker, relay = harness.worker(env, logs), harness.relay(env, logs)
    for process in (web, worker, relay):
        process.start()
    base = f"http://127.0.0.1:{port}"
    harness.wait_for(lambda: _answers(base), timeout=60, what="gunicorn")
    harness.wait_until_consuming(worker)
    tally = harness.Tally()
    first_new = (TrainingRun.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    queued = fill_queue()
    pace = (think, 2 * think) if think else (0.01, 0.05)
    say(f"{queued} merchants queued; each analyst takes {pace[0]:g}-{pace[1]:g} s a merchant")
    try:
        with harness.analysts(base, tokens, tally, think=pace):
            harness.wait_for(lambda: len(tally.labelled) >= 20, timeout=60, what="labels")
            redis.stop()
            outage_started = timezone.now()
            before = len(tally.labelled)
            say(f"redis stopped after {before} labels")
            lead = _lead_session(base)
            answered = lead.post(
                f"{base}/lead/retrain/",
                headers={"HX-Request": "true", "X-CSRFToken": lead.cookies["csrftoken"]},
                timeout=30,
            )
            recompute = lead.post(
                f"{base}/lead/agreement/recompute/",
                headers={"X-CSRFToken": lead.cookies["csrftoken"]},
                allow_redirects=False,
                timeout=30,
            )
            say(f"retrain answered {answered.status_code}, recompute {recompute.status_code}")
            time.sleep(seconds)
            during = len(tally.labelled) - before
            redis.start()
            back = time.monotonic()
            say(f"redis back after {seconds:.0f} s; {during} labels stored meanwhile")
            run = harness.wait_for(
                lambda: TrainingRun.objects.filter(pk__gte=first_new, holds_lock=False).first(),
                timeout=600,
                what="the retraining to end",
            )
            to_complete = time.monotonic() - back
            say(f"retraining #{run.pk} {run.status} {to_complete:.1f} s after the broker returned")
            asked = OutboxMessage.objects.filter(created_at__gte=outage_started)
            harness.wait_for(
                lambda: not asked.filter(done_at__isnull=True).exists(),
                timeout=300,
                what="every follow-up asked for during the outage",
            )
            all_done = time.monotonic() - back
    finally:
        for process in (web, worker, relay):
            process.stop()
    stored = set(Label.objects.values_list("id", flat=True))
    outbox_relay()
    unsent = OutboxMessage.objects.filter(done_at__isnull=True, published_at__isnull=True).count()
    return {
        "retrain_status": answered.status_code,
        "recompute_status": recompute.status_code,
        "labels": len(tally.labelled),
        "during": during,
        "all_stored": set(tally.labelled) <= stored,
        "server_errors": tally.server_errors,
        "request_errors": len(tally.errors),
        "runs": TrainingRun.objects.filter(pk__gte=first_new).count(),
        "run_status": run.status,
        "to_complete": to_complete,
        "unsent": unsent,
        "followups": asked.count(),
        "followups_done": asked.filter(outcome="done").count(),
        "all_done": all_done,
    }


def _answers(base: str) -> bool:
    import requests

    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _lead_session(base: str) -> Any:
    import requests

    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    session.post(
        f"{base}/login/",
        data={
            "username": "bench-lead",
            "password": "bench-lead-pw",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--outage-seconds", type=float, default=300.0)
    parser.add_argument("--analysts", type=int, default=16)
    parser.add_argument("--merchants", type=int, default=1_200)
    parser.add_argument(
        "--think", type=float, default=3.0, help="an analyst spends THINK-2*THINK s per merchant"
    )
    parser.add_argument("--phases", default="kills,outage", help="kills, outage or both")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        smoke.shrink(args, **SMOKE)
    base = os.environ.get("DATABASE_URL", "")
    redis = harness.RedisServer()
    redis.start()
    logs = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        with smoke.throwaway_database(base, "faults") as url:
            world = setup(url, redis.url, args.merchants, args.analysts)
            env = harness.process_env(
                url, redis.url, **SETTINGS, AUDIT_CHECKPOINT_DIR=str(logs / "checkpoints")
            )
            phases = set(args.phases.split(","))
            killed = (
                kill_phase(args.kills, world["lead"], env, logs) if "kills" in phases else NO_KILLS
            )
            broken = outage(
                args.outage_seconds, world["tokens"], env, logs, redis, think=args.think
            )
    except BaseException:
        for log in sorted(logs.glob("*.log")):  # what the processes said, then tidy up
            print(
                f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            )
        raise
    finally:
        redis.close()
        shutil.rmtree(logs, ignore_errors=True)
    report = killed["report"]
    rows = [
        ("kills", f"{report.kills} ({report.pool_process} pool process, {report.whole_worker}"
                  f" whole worker; {report.mid_step} landed mid-step)"),
        ("runs checked", f"{killed['runs']} ({report.recovered_as_failed} recovered as failed"
                         " and retried)"),
        ("invariants", "; ".join(killed["problems"]) or "all hold"),
        ("kill to step done", f"median {killed['resume_median']:.1f} s,"
                              f" max {killed['resume_max']:.1f} s"),
        ("kill phase", f"{killed['minutes']:.1f} min"),
        ("outage", f"{args.outage_seconds:.0f} s, {args.analysts} analysts labelling"),
        ("labels confirmed (during the outage)", f"{broken['labels']} ({broken['during']}),"
                                                 f" all stored: {broken['all_stored']}"),
        ("server errors / request errors", f"{broken['server_errors']} /"
                                           f" {broken['request_errors']}"),
        ("retrain / recompute asked during the outage", f"HTTP {broken['retrain_status']} /"
                                                       f" {broken['recompute_status']}"),
        ("broker back -> retraining done", f"{broken['to_complete']:.1f} s"
                                           f" ({broken['run_status']}; runs: {broken['runs']})"),
        ("follow-ups asked for during the outage, done", f"{broken['followups_done']} of"
                                                          f" {broken['followups']}, the last"
                                                          f" {broken['all_done']:.1f} s after"
                                                          " the broker returned"),
        ("unsent after the relay's next tick", str(broken["unsent"])),
    ]  # fmt: skip
    print()
    for name, value in rows:
        print(f"| {name} | {value} |")
    ok = (
        not killed["problems"]
        and (report.kills >= args.kills or "kills" not in args.phases)
        and report.recovered_as_failed == report.whole_worker_mid_step
        and broken["all_stored"]
        and broken["server_errors"] == 0
        and broken["request_errors"] == 0
        and broken["during"] > 0
        and broken["runs"] == 1
        and broken["retrain_status"] == 200
        and broken["recompute_status"] == 302
        and broken["unsent"] == 0
        and broken["followups_done"] == broken["followups"] > 0
    )
    smoke.check(ok, "a fault left work lost, doubled or stuck (see the table)")


if __name__ == "__main__":
    main()
