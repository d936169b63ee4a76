"""The retraining benchmark's world, loaded by COPY: merchants from the synthetic world, a
champion trained on historical decisions, reviewed merchants drawn by Poisson sampling and
labelled by simulated analysts, and an open queue."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.queue_setup import copy_labels

SEED = 7
SEED_DECISIONS = 10_000  # historical decisions the champion learnt from (a seed snapshot)
CHUNK = 50_000  # merchants generated, loaded and scored at a time
ANALYSTS = 20
DOUBLE_SHARE = 0.10
# When an analyst errs on a violator, how often the error is "supportable" (a miss) rather
# than another category: the one-sided noise the design notes warn about.
MISS_SHARE = 0.7


# --- the world --------------------------------------------------------------------------


def _merchant_row(pk: int, m: Any) -> tuple[Any, ...]:
    return (
        pk, m.external_id, m.name, m.country, m.mcc, m.url, m.description, m.website_text,
        m.refund_rate, m.dispute_rate, m.cnp_share, m.account_age_days, m.monthly_volume,
        "now", "now",
    )  # fmt: skip


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, CHUNK):
        yield start, min(start + CHUNK, total)


def _said(truth: str, accuracy: float, rng: random.Random) -> str:
    """What an analyst of this accuracy answers for a merchant whose truth is `truth`."""
    from supportability.ml.taxonomy import VIOLATION_CATEGORIES, decision_for_category

    if rng.random() < accuracy:
        return truth
    decision, slug = truth.split("/")
    if decision != "supportable" and rng.random() < MISS_SHARE:
        return "supportable/none"
    other = rng.choice([c for c in VIOLATION_CATEGORIES if c != slug])
    return f"{decision_for_category(other)}/{other}"


@dataclass
class Drawn:
    """What loading the merchants drew: the champion, and by Poisson sampling on its scores
    the merchants reviewed (id, truth, π, score) and those waiting in the queue (id, π)."""

    champion: Any = None
    reviewed: list[tuple[int, str, float, float]] = field(default_factory=list)
    queued: list[tuple[int, float]] = field(default_factory=list)
    generate_seconds: float = 0.0


def load(
    *,
    labelled: int,
    merchants: int,
    queued: int,
    seed_decisions: int = SEED_DECISIONS,
    analysts: int = ANALYSTS,
) -> dict[str, Any]:
    """The world, by COPY (see the module's docstring). Merchant i has id i + 1; the first
    `seed_decisions` are the champion's history and count towards `labelled`."""
    from django.core.management import call_command
    from django.db import connection

    from labeling.services import queue_default

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    queue = queue_default()
    rng = random.Random(SEED)
    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        drawn = _load_merchants(
            cursor, total=merchants + labelled, reviewed=labelled - seed_decisions, queued=queued,
            seed_decisions=seed_decisions, rng=rng,
        )  # fmt: skip
        timings["merchants"] = time.perf_counter() - started
        t = time.perf_counter()
        labels = _load_labels(cursor, drawn.reviewed, queue.pk, rng, analysts=analysts)
        timings["labels"] = time.perf_counter() - t
        t = time.perf_counter()
        _load_queue(cursor, drawn, queue.pk, rng)
        cursor.execute("ANALYZE")
        timings["queue"] = time.perf_counter() - t
    timings["generate (part of merchants)"] = drawn.generate_seconds
    return {
        "merchants": merchants + labelled,
        "seed_decisions": seed_decisions,
        "reviewed": len(drawn.reviewed),
        "labels": labels,
        "queued": len(drawn.queued),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def _load_merchants(
    cursor: Any, *, total: int, reviewed: int, queued: int, seed_decisions: int, rng: random.Random
) -> Drawn:
    """Generate and COPY the merchants chunk by chunk; the first chunk's historical
    decisions train the champion, whose scores then draw the reviewed and the queued."""
    from review.demo.seeding import inclusion_probability
    from supportability.ml.model import load_model
    from supportability.ml.synthetic import generate_merchants, model_inputs

    drawn = Drawn()
    trained = None
    for number, (start, stop) in enumerate(_chunks(total)):
        t = time.perf_counter()
        # One seed per chunk: external ids M000123-S7003 never collide across chunks.
        world = generate_merchants(stop - start, seed=SEED * 1_000 + number)
        drawn.generate_seconds += time.perf_counter() - t
        with cursor.copy(
            "COPY supportability_merchant (id, external_id, name, country, mcc, url,"
            " description, website_text, refund_rate, dispute_rate, cnp_share,"
            " account_age_days, monthly_volume, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, m in enumerate(world, start=start):
                copy.write_row(_merchant_row(i + 1, m))
        truths = [f"{m.true_decision}/{m.true_category}" for m in world]
        offset = 0
        if trained is None:
            drawn.champion = _champion(truths[:seed_decisions], rng)
            artifact = drawn.champion.artifact
            trained = load_model(bytes(artifact), expected_sha256=drawn.champion.artifact_sha256)
            offset = seed_decisions
        if len(drawn.reviewed) >= reviewed and len(drawn.queued) >= queued:
            continue
        # Poisson sampling on the champion's scores: first the reviewed, then the queue.
        inputs = model_inputs(world[offset:])
        scores = trained.predict_proba(inputs.texts, inputs.numeric).tolist()
        for j, score in enumerate(scores, start=offset):
            pi = inclusion_probability(score)
            if rng.random() >= pi:
                continue
            if len(drawn.reviewed) < reviewed:
                drawn.reviewed.append((start + j + 1, truths[j], pi, score))
            elif len(drawn.queued) < queued:
                drawn.queued.append((start + j + 1, pi))
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('supportability_merchant', 'id'), %s)", [total]
    )
    if len(drawn.reviewed) < reviewed:
        raise SystemExit(f"only {len(drawn.reviewed)} merchants drawn for review: add merchants")
    return drawn


def _champion(truths: list[str], rng: random.Random) -> Any:
    """The champion, trained and promoted on historical decisions about merchants 1..N: the
    truth, with a few violators missed (a seed snapshot, as the demo has)."""
    from supportability.services import (
        SnapshotRow,
        model_promote,
        model_train,
        model_version_register,
        snapshot_create,
    )

    rows = []
    for i, truth in enumerate(truths):
        decision, slug = truth.split("/")
        if decision != "supportable" and rng.random() < 0.03:
            decision, slug = "supportable", "none"
        rows.append(SnapshotRow(i + 1, decision, slug, "seed"))
    snapshot = snapshot_create(rows=rows, filters={"source": "seed", "seed": SEED})
    champion = model_version_register(
        name="supportability-demo",
        version="1",
        trained=model_train(snapshot=snapshot, seed=SEED),
        snapshot=snapshot,
    )
    return model_promote(model_version=champion)


def _load_labels(
    cursor: Any,
    reviewed: list[tuple[int, str, float, float]],
    queue: int,
    rng: random.Random,
    *,
    analysts: int,
) -> int:
    """The reviewed merchants' done items, leases and labels (10 % labelled twice) by
    simulated analysts of accuracy 0.80-0.97. Returns the number of labels."""
    from supportability.models import PolicyCategory, PolicyVersion
    from supportability.roles import Role
    from supportability.services import user_create

    slugs = {c.slug: c.pk for c in PolicyCategory.objects.all()}
    policy = PolicyVersion.objects.get(is_current=True).pk
    users = [
        user_create(username=f"sim{a}", role=Role.ANALYST, password="bench-pw")[0].pk
        for a in range(analysts)
    ]
    accuracy = [0.80 + 0.17 * a / max(analysts - 1, 1) for a in range(analysts)]
    doubles = [rng.random() < DOUBLE_SHARE for _ in reviewed]
    with cursor.copy(
        "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
        " propensity, required_labels, label_count, score_hidden, created_at, updated_at)"
        " FROM STDIN"
    ) as copy:
        for (merchant, _, pi, score), double in zip(reviewed, doubles, strict=True):
            k = 2 if double else 1
            reason = "flagged" if score >= 0.5 else "audit_sample"
            copy.write_row((merchant, queue, reason, "done", score, pi, k, k, False, "now", "now"))
    cursor.execute("SELECT min(id) FROM labeling_reviewitem")
    first_item = cursor.fetchone()[0]
    labels = []
    for n, ((merchant, truth, _, _), double) in enumerate(zip(reviewed, doubles, strict=True)):
        for analyst in rng.sample(range(analysts), 2 if double else 1):
            said = _said(truth, accuracy[analyst], rng)
            labels.append((first_item + n, merchant, users[analyst], said))
    copy_labels(cursor, labels, categories=slugs, policy_id=policy, rng=rng)
    return len(labels)


def _load_queue(cursor: Any, drawn: Drawn, queue: int, rng: random.Random) -> None:
    """The open queue: the champion's scores of its merchants (with explanations, by the
    app's own scoring) and their queued items."""
    from supportability.models import Merchant, Score
    from supportability.services import merchants_score

    ids = [merchant for merchant, _ in drawn.queued]
    merchants_score(model_version=drawn.champion, merchants=Merchant.objects.filter(id__in=ids))
    scores = {
        merchant: (pk, probability)
        for merchant, pk, probability in Score.objects.filter(
            model_version=drawn.champion
        ).values_list("merchant_id", "id", "probability")
    }
    with cursor.copy(
        "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
        " propensity, required_labels, label_count, score_id, score_hidden, created_at,"
        " updated_at) FROM STDIN"
    ) as copy:
        for merchant, pi in drawn.queued:
            score, p = scores[merchant]
            reason = "flagged" if p >= 0.5 else "audit_sample"
            k = 2 if rng.random() < DOUBLE_SHARE else 1
            copy.write_row(
                (merchant, queue, reason, "queued", p, pi, k, 0, score, False, "now", "now")
            )  # fmt: skip
