"""Active-learning rounds: what enters a queue, drawn by the lead's strategy mix.

A round is Poisson sampling over every merchant the champion scored (labeling.strategies):
each strategy spends its share of the queue's capacity, each merchant has its own
probability π > 0 of being drawn, and π is kept on the draw and the item so that leads
get unbiased estimates of what is true (review.pages.estimates). A merchant already reviewed or
queued costs no new review when drawn: its existing item is linked and its label reused.

Within the queue a round's items come after the previous round's, so rounds are worked in
turn; inside a round the order is random (near-duplicates spread out), so that estimates
from a half-worked round stay unbiased.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from supportability.audit import audit_record
from supportability.ml.folds import near_duplicate_key
from supportability.models import Merchant, ModelVersion, Score
from supportability.services import champion
from supportability.validation import finite_or_none

from .. import strategies
from ..models import Draw, Queue, ReviewItem, SamplingRound
from ..selectors import queued_waiting
from .errors import Conflict
from .intake import Enqueue, external_ids_lock, items_enqueue
from .queues import QueueInvalid

FLAG_THRESHOLD = 0.5  # the model flags a merchant at this calibrated probability
TOP_CATEGORIES = 3  # the explanation's top categories (supportability.ml.model)
NEAR_DUPLICATE_DISCOUNT = 0.5  # each further near-duplicate in a round ranks this much lower

REASON_OF = {
    "risk": ReviewItem.Reason.RISK,
    "uncertainty": ReviewItem.Reason.UNCERTAINTY,
    "diversity": ReviewItem.Reason.DIVERSITY,
    "audit": ReviewItem.Reason.AUDIT_SAMPLE,
}


def lead_shares(queue: Queue) -> dict[str, float]:
    """The mix the lead set for the queue, or the default one."""
    if not queue.mix:
        return dict(strategies.DEFAULT_SHARES)
    return {s: float(queue.mix.get(s, 0.0)) for s in strategies.STRATEGIES}


@dataclass(frozen=True)
class Population:
    """Every merchant the model scored, as arrays aligned by row."""

    merchant_ids: np.ndarray
    score_ids: np.ndarray
    probability: np.ndarray
    volume: np.ndarray
    groups: np.ndarray  # near-duplicate group per merchant
    free: np.ndarray  # already has a review item: drawing it costs no review
    categories: np.ndarray  # P(category | violating) of the model's top categories, per row


def population_load(model_version: ModelVersion) -> Population:
    """Every merchant the model scored, streamed into arrays (a server-side cursor on
    PostgreSQL: a million merchants never sit in memory as Python rows). A merchant with a
    review item of any status is free: drawing it costs no review."""
    rows = (
        Score.objects.filter(model_version=model_version)
        .annotate(reviewed=Exists(ReviewItem.objects.filter(merchant_id=OuterRef("merchant_id"))))
        .order_by("merchant_id")
        .values_list(
            "merchant_id",
            "id",
            "probability",
            "merchant__monthly_volume",
            "merchant__url",
            "merchant__name",
            "reviewed",
            "explanation__categories",
        )
    )
    n = rows.count()
    merchant_ids = np.empty(n, dtype=np.int64)
    score_ids = np.empty(n, dtype=np.int64)
    probability = np.empty(n)
    volume = np.empty(n)
    groups = np.empty(n, dtype=np.int64)
    free = np.empty(n, dtype=bool)
    categories = np.zeros((n, TOP_CATEGORIES))
    group_of: dict[str, int] = {}
    k = 0
    for merchant_id, score_id, p, v, url, name, reviewed, top in rows.iterator(chunk_size=20_000):
        if k == n:
            break  # scored since the count: the next round has it
        merchant_ids[k], score_ids[k], probability[k] = merchant_id, score_id, p
        # (A volume stored before the stored-value rules may not be finite: none.)
        volume[k], free[k] = finite_or_none(v) or 0.0, reviewed
        # No URL and no name: a group of its own.
        key = near_duplicate_key(url, name) or f"merchant:{merchant_id}"
        groups[k] = group_of.setdefault(key, len(group_of))
        # The model's P(category | violating) for its top categories (our own model's
        # explanation; upstream detectors may send none).
        categories[k] = _top_categories(top)
        k += 1
    return Population(
        merchant_ids=merchant_ids[:k],
        score_ids=score_ids[:k],
        probability=probability[:k],
        volume=volume[:k],
        groups=groups[:k],
        free=free[:k],
        categories=categories[:k],
    )


def _top_categories(top: Any) -> np.ndarray:
    """P(category | violating) of the explanation's likeliest categories ([[slug, p], ...]
    from our own model); zeros for anything else (an explanation is free-form JSON)."""
    values = np.zeros(TOP_CATEGORIES)
    if not isinstance(top, list):
        return values
    for c, pair in enumerate(top[:TOP_CATEGORIES]):
        try:
            share = float(pair[1])
            values[c] = min(max(share, 0.0), 1.0) if math.isfinite(share) else 0.0
        except (TypeError, ValueError, KeyError, IndexError):
            return np.zeros(TOP_CATEGORIES)
    return values


def within_round_order(
    groups: np.ndarray, *, rng: np.random.Generator, discount: float = NEAR_DUPLICATE_DISCOUNT
) -> np.ndarray:
    """A value in [0, 1) per new item that orders a round: random, so that a half-worked
    round is a random half of its draws and the estimates on the lead's dashboard hold
    mid-round (an order by risk would leave the audit stratum's heavy-weighted merchants
    for last, and the estimates biased until the round ends). Each further member of a
    near-duplicate group is discounted, so one cluster cannot fill the head of the queue.
    Big violators come first across rounds: the risk stratum draws them with π near 1."""
    keys = rng.random(len(groups))
    seen: dict[int, int] = {}
    for row in np.argsort(-keys, kind="stable"):
        k = seen.get(int(groups[row]), 0)
        keys[row] *= discount**k
        seen[int(groups[row])] = k + 1
    return 0.999 * keys


def draw_priority(round_id: int, value: float) -> float:
    """Earlier rounds first, then the within-round value: round r's items sit in (-r, -r+1).
    Items flagged upstream (priority = their score in [0, 1]) come before sampled ones."""
    return -float(round_id) + float(value)


class DrawNotNeeded(Conflict):
    """The queue has enough waiting: no round drawn."""


# Every draw writes under this transaction-scoped advisory lock (PostgreSQL), so that two
# queues drawing at once cannot both queue the same merchant.
DRAW_LOCK = 0x53524457  # "SRDW"


def queue_draw(
    *,
    queue_id: int,
    actor: Any = None,
    shares: Mapping[str, float] | None = None,
    bandit_evidence: Mapping[str, Any] | None = None,
    rng: np.random.Generator | None = None,
    unless_waiting: float | None = None,
) -> SamplingRound:
    """Draw one round into the queue: Poisson sampling over every merchant the champion
    scored with the given shares (default: the lead's), recording each draw's π and why.

    The population is read and the sample drawn before any lock (seconds at a million
    merchants). The writes then happen in one transaction under a lock all draws share and
    the upstream intake's per-merchant locks, so that a merchant queued meanwhile (by another
    draw or an upstream flag) is merged into its open item, not queued twice; its draw is
    then marked reused. With `unless_waiting`, raises DrawNotNeeded if that many items are
    waiting once the lock is held (two top-ups at once draw one round)."""
    queue = Queue.objects.get(pk=queue_id)
    capacity = queue.draw_capacity
    if capacity == 0:
        raise QueueInvalid("draw_capacity", "This queue takes no sampled work: set a capacity.")
    model_version = champion()
    if model_version is None:
        raise QueueInvalid("model", "No champion model yet: train and promote one first.")
    population = population_load(model_version)
    if len(population.merchant_ids) == 0:
        raise QueueInvalid("model", f"{model_version} has scored no merchants yet.")
    rng = rng or np.random.default_rng()
    used = dict(shares) if shares is not None else lead_shares(queue)
    weights = strategies.strategy_weights(
        population.probability, population.volume, population.groups, population.categories
    )
    drawn = strategies.round_draw(weights, used, capacity, rng=rng, free=population.free)
    rows = drawn.index
    merchant_ids = [int(m) for m in population.merchant_ids[rows]]
    flagged = population.probability >= FLAG_THRESHOLD
    fired = [
        ",".join(s for s in strategies.STRATEGIES if s in drawn.fired and drawn.fired[s][j])
        for j in range(len(rows))
    ]
    new = np.flatnonzero(~population.free[rows])
    order = within_round_order(population.groups[rows[new]], rng=rng)
    hidden = rng.random(len(new)) < queue.hide_score_share
    with transaction.atomic():
        _lock_draws()
        external_ids_lock(
            sorted(
                Merchant.objects.filter(pk__in=[merchant_ids[j] for j in new]).values_list(
                    "external_id", flat=True
                )
            )
        )
        queue = Queue.objects.select_for_update().get(pk=queue_id)
        if unless_waiting is not None and queued_waiting(queue=queue) >= unless_waiting:
            raise DrawNotNeeded(f"{queue.name} has enough work waiting.")
        sampling_round = SamplingRound.objects.create(
            queue=queue,
            model_version=model_version,
            shares=used,
            lead_shares=lead_shares(queue),
            bandit=shares is not None and queue.bandit,
            bandit_evidence=dict(bandit_evidence or {}),
            capacity=capacity,
            expected_reviews=drawn.expected,
            population=len(population.merchant_ids),
            population_flagged=int(flagged.sum()),
            threshold=FLAG_THRESHOLD,
            score_sum=float(population.probability.sum()),
            flagged_score_sum=float(population.probability[flagged].sum()),
            drawn=len(rows),
            new_items=0,
            created_by=actor,
        )
        items_enqueue(
            entries=[
                Enqueue(
                    merchant_id=merchant_ids[j],
                    score_id=int(population.score_ids[rows[j]]),
                    priority=draw_priority(sampling_round.pk, order[k]),
                    propensity=float(drawn.inclusion[j]),
                    # Shown under the first strategy (in STRATEGIES order) that chose it.
                    reason=REASON_OF[fired[j].split(",")[0]],
                    queue_id=queue.pk,
                    sampling_round_id=sampling_round.pk,
                    score_hidden=bool(hidden[k]),
                    # Drawn by the audit stratum alone: the heaviest weights in every
                    # estimate (1/π in the hundreds), so one analyst's slip would move them
                    # most. Two independent labels, as the queue's overlap asks.
                    required_labels=queue.overlap_k if fired[j] == "audit" else None,
                )
                for k, j in enumerate(new)
            ],
            actor=actor,
        )
        created = set(sampling_round.items.values_list("merchant_id", flat=True))
        sampling_round.new_items = len(created)
        sampling_round.save(update_fields=["new_items"])
        items = _latest_items(merchant_ids)
        Draw.objects.bulk_create(
            [
                Draw(
                    sampling_round=sampling_round,
                    merchant_id=merchant_id,
                    item_id=items.get(merchant_id),
                    score_id=int(population.score_ids[row]),
                    probability=float(population.probability[row]),
                    propensity=float(drawn.inclusion[j]),
                    strategies=fired[j],
                    flagged=bool(flagged[row]),
                    reused=merchant_id not in created,
                )
                for j, (row, merchant_id) in enumerate(zip(rows, merchant_ids, strict=True))
            ],
            batch_size=1_000,
        )
        audit_record(
            actor=actor,
            verb="queue.draw",
            target=sampling_round,
            after={
                "queue": queue.slug,
                "model": str(model_version),
                "shares": used,
                "bandit": sampling_round.bandit,
                "drawn": sampling_round.drawn,
                "new_items": sampling_round.new_items,
                "expected_reviews": round(sampling_round.expected_reviews, 2),
                "population": sampling_round.population,
            },
        )
    return sampling_round


def _lock_draws() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DRAW_LOCK])


def _latest_items(merchant_ids: list[int]) -> dict[int, int]:
    """The newest review item of each merchant (the one a draw links to)."""
    latest: dict[int, int] = {}
    for merchant_id, item_id in (
        ReviewItem.objects.filter(merchant_id__in=merchant_ids)
        .order_by("merchant_id", "id")
        .values_list("merchant_id", "id")
    ):
        latest[merchant_id] = item_id
    return latest
