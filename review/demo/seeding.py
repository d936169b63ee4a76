"""The demo world: synthetic merchants with hidden ground truth, a first model trained on a
seed set of historical decisions, every merchant scored, and a queue drawn by the
active-learning mix (Poisson sampling) so that every merchant has a known, non-zero chance
of review."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import time_machine
from django.contrib.auth import get_user_model
from django.db import transaction

from labeling.models import ReviewItem
from labeling.services import LabelInput, gold_create, queue_default
from supportability.audit import audit_record
from supportability.audit.sealing import audit_seal
from supportability.ml.synthetic import generate_merchants
from supportability.models import AuditEvent, GroundTruth, Merchant, ModelVersion
from supportability.roles import Role
from supportability.services import (
    SnapshotRow,
    merchants_create,
    merchants_score,
    model_promote,
    model_train,
    model_version_register,
    snapshot_create,
    user_create,
)
from supportability.services.audit_checks import audit_verify

from ..services import DEMO_MODEL_NAME, queue_draw_now, queue_top_up, similar_index_refresh
from .history import history_seed, history_start

DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("analyst", Role.ANALYST, "analyst-demo-pw"),
    ("analyst2", Role.ANALYST, "analyst2-demo-pw"),
    ("lead", Role.LEAD, "lead-demo-pw"),
    ("lead2", Role.LEAD, "lead2-demo-pw"),
    ("admin", Role.ADMIN, "admin-demo-pw"),
)
SEED_SHARE = 0.25  # historical decisions the first model learns from
MIN_PROPENSITY = 0.02  # no merchant has zero chance of review
DEMO_ROUNDS = 3  # active-learning rounds drawn before the simulated analysts start
GOLD_ITEMS = 12


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    merchants: int
    queued: int
    model: str
    users: tuple[tuple[str, Role, str], ...] = DEMO_USERS


def inclusion_probability(score: float) -> float:
    """π grows with the square root of the score and is never below MIN_PROPENSITY (the
    retraining benchmark's world; the demo's queue is drawn by the strategy mix)."""
    return min(1.0, max(MIN_PROPENSITY, 1.2 * math.sqrt(max(score, 0.0))))


def demo_seed(*, merchants: int = 5_000, seed: int = 7, history: bool = True) -> DemoSummary:
    """Create the demo world once; later calls only make sure the demo users exist. With
    `history`, simulated analysts and a second lead have already worked the queue a while
    (demo_history.py)."""
    for username, role, password in DEMO_USERS:
        user_create(username=username, role=role, password=password)
    if AuditEvent.objects.filter(verb="demo.seed").exists():
        champion = ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).first()
        return DemoSummary(
            created=False,
            merchants=Merchant.objects.count(),
            queued=ReviewItem.objects.filter(status=ReviewItem.Status.QUEUED).count(),
            model=str(champion) if champion else "",
        )
    rng = np.random.default_rng(seed)
    world = generate_merchants(merchants, seed=seed)
    # All or nothing: a seed that fails half-way leaves no half-world behind to trip over
    # the next `make run`. With a history, the world is made DAYS + 1 days ago and the
    # simulated reviews play out over the days since (demo/history.py).
    clock = (
        time_machine.travel(history_start(), tick=False) if history else contextlib.nullcontext()
    )
    with clock as traveller, transaction.atomic():
        created = merchants_create(
            {
                "external_id": m.external_id,
                "name": m.name,
                "country": m.country,
                "mcc": m.mcc,
                "url": m.url,
                "description": m.description,
                "website_text": m.website_text,
                "refund_rate": m.refund_rate,
                "dispute_rate": m.dispute_rate,
                "cnp_share": m.cnp_share,
                "account_age_days": m.account_age_days,
                "monthly_volume": m.monthly_volume,
            }
            for m in world
        )
        ids = {m.external_id: m.pk for m in created}
        GroundTruth.objects.bulk_create(
            [
                GroundTruth(
                    merchant_id=ids[m.external_id],
                    decision=m.true_decision,
                    category_slug=m.true_category,
                )
                for m in world
            ],
            batch_size=1_000,
        )
        seed_rows = [
            SnapshotRow(ids[m.external_id], m.true_decision, m.true_category, "seed")
            for m in world
            if rng.random() < SEED_SHARE
        ]
        snapshot = snapshot_create(rows=seed_rows, filters={"source": "seed", "seed": seed})
        trained = model_train(snapshot=snapshot, seed=seed)
        model_version = model_version_register(
            name=DEMO_MODEL_NAME, version="1", trained=trained, snapshot=snapshot
        )
        model_promote(model_version=model_version)
        merchants_score(model_version=model_version)
        # The queue as active learning fills it: a few rounds of the default mix.
        queue = queue_default()
        queued = sum(
            queue_draw_now(queue_id=queue.pk, rng=rng).new_items for _ in range(DEMO_ROUNDS)
        )
        _seed_gold(seed_rows, rng)
        if traveller is not None:
            history_seed(rng=rng, traveller=traveller)
        audit_record(
            actor=None,
            verb="demo.seed",
            target=model_version,
            after={"merchants": len(created), "queued": queued, "seed": seed},
        )
    if history:
        # Today: the queue ran low while they worked, so the next round, as the beat would
        # draw it; and the analyst's "similar past decisions" from the first claim on (after
        # this, the retraining chain keeps the index up to date).
        queue_top_up(queue_id=queue.pk, rng=rng)
        similar_index_refresh(actor=None)
    # The seeded trail sealed and verified, as the beat would within the hour: the lead's
    # audit page opens on a checked chain.
    audit_seal()
    audit_verify()
    return DemoSummary(
        created=True, merchants=len(created), queued=queued, model=str(model_version)
    )


def _seed_gold(seed_rows: list[SnapshotRow], rng: np.random.Generator) -> None:
    """A dozen known answers from the historical decisions, half of them violators, so that
    gold items turn up in the demo queue and the lead sees analysts' accuracy."""
    lead = get_user_model().objects.get(username="lead")
    violators = [r for r in seed_rows if r.decision != "supportable"]
    supportable = [r for r in seed_rows if r.decision == "supportable"]
    picks = [violators[i] for i in rng.permutation(len(violators))[: GOLD_ITEMS // 2]]
    rest = GOLD_ITEMS - len(picks)
    picks += [supportable[i] for i in rng.permutation(len(supportable))[:rest]]
    for row in picks:
        gold_create(
            actor=lead,
            merchant=Merchant.objects.get(pk=row.merchant_id),
            data=LabelInput(
                row.decision, row.category_slug, "Confirmed by the policy team.", "gold"
            ),
        )
