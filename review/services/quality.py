"""The periodic agreement and analyst-quality statistics, written to tables that the
agreement page and its CSV read (a Celery beat task recomputes them)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from labeling.models import Label
from supportability.audit import audit_record
from supportability.models import OutboxMessage, PolicyCategory
from supportability.outbox import outbox_write

from ..agreement import Agreement, krippendorff_alpha, pair_agreement
from ..models import AgreementStat, AnalystQuality, QaAudit, QualityRun
from .qa import analyst_audit_rates, analyst_records

WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class _Label:
    item_id: int
    analyst_id: int
    value: str  # "decision/category"


def _multi_labels(since: datetime) -> list[_Label]:
    """The window's labels on items labelled more than once: the only ones agreement uses
    (most items have one label, and are never loaded here)."""
    rows = (
        Label.objects.filter(created_at__gte=since, item__label_count__gte=2)
        .order_by("item_id", "id")
        .values_list("item_id", "analyst_id", "decision", "category__slug")
    )
    return [_Label(i, a, f"{d}/{c}") for i, a, d, c in rows.iterator(chunk_size=5_000)]


def _stat(scope: str, agreement: Agreement, **fields: Any) -> AgreementStat:
    return AgreementStat(
        scope=scope,
        items=agreement.n,
        observed=agreement.observed,
        kappa=agreement.kappa,
        alpha=agreement.alpha,
        ac1=agreement.ac1,
        **fields,
    )


def agreement_stats(labels: list[_Label], categories: list[PolicyCategory]) -> list[AgreementStat]:
    """Overall, per analyst pair and per category. Kappa and AC1 compare the first two
    independent labels of each multi-labelled item; alpha uses every label of the item."""
    by_item: dict[int, list[_Label]] = defaultdict(list)
    for label in labels:
        by_item[label.item_id].append(label)
    units = [group for group in by_item.values() if len(group) >= 2]
    if not units:
        return []
    first = [group[0].value for group in units]
    second = [group[1].value for group in units]
    stats = [
        _stat(
            AgreementStat.Scope.OVERALL,
            replace(
                pair_agreement(first, second),
                alpha=krippendorff_alpha([[lb.value for lb in g] for g in units]),
            ),
        )
    ]
    for category in categories:
        slug = f"/{category.slug}"
        if not any(lb.value.endswith(slug) for g in units for lb in g):
            continue  # nobody said it: agreement on "not this" is trivially perfect
        stats.append(
            _stat(
                AgreementStat.Scope.CATEGORY,
                replace(
                    pair_agreement(
                        [v.endswith(slug) for v in first],
                        [v.endswith(slug) for v in second],
                        categories=[False, True],
                    ),
                    alpha=krippendorff_alpha(
                        [[lb.value.endswith(slug) for lb in g] for g in units]
                    ),
                ),
                category=category,
            )
        )
    pairs: dict[tuple[int, int], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for group in units:
        seen = {lb.analyst_id: lb.value for lb in group}
        for a, b in combinations(sorted(seen), 2):
            pairs[a, b][0].append(seen[a])
            pairs[a, b][1].append(seen[b])
    for (a, b), (values_a, values_b) in sorted(pairs.items()):
        stats.append(
            _stat(
                AgreementStat.Scope.PAIR,
                pair_agreement(values_a, values_b),
                analyst_a_id=a,
                analyst_b_id=b,
            )
        )
    return stats


def _overturn_estimates(analyst_ids: set[int]) -> dict[int, float]:
    """Each analyst's overturn rate among their single labels, estimated from the decided
    audits weighted by 1/rate (Hájek): the rate rises after overturns, so the raw share of
    overturned audits would over-count the periods when an analyst was erring."""
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    decided = QaAudit.objects.filter(
        analyst_id__in=analyst_ids,
        status__in=[QaAudit.Status.AGREED, QaAudit.Status.OVERTURNED],
    ).values_list("analyst_id", "status", "rate")
    for analyst, status, rate in decided.iterator(chunk_size=5_000):
        totals[analyst][0] += 1 / rate
        totals[analyst][1] += (status == QaAudit.Status.OVERTURNED) / rate
    return {analyst: overturned / weight for analyst, (weight, overturned) in totals.items()}


def analyst_quality(since: datetime) -> list[AnalystQuality]:
    """Per analyst, in SQL where it can be: labels, active time and time per item (streamed),
    gold accuracy and overturn rate (all time: every check counts)."""
    window = Label.objects.filter(created_at__gte=since)
    counts = dict(
        window.order_by()
        .values("analyst_id")
        .annotate(n=Count("id"))
        .values_list("analyst_id", "n")
    )
    # One pass over the window's labels, each analyst's in time order: their time per item
    # (for the median) and their active time (for labels per active hour).
    seconds: dict[int, array[float]] = defaultdict(lambda: array("d"))
    times: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for analyst, at, spent in (
        window.order_by("analyst_id", "created_at", "id")
        .values_list("analyst_id", "created_at", "seconds_spent")
        .iterator(chunk_size=10_000)
    ):
        seconds[analyst].append(spent)
        times[analyst].append((at, spent))
    active = {analyst: active_seconds(moments) for analyst, moments in times.items()}
    records = analyst_records(counts)
    rates = analyst_audit_rates(counts)
    overturns = _overturn_estimates(set(counts))
    return [
        AnalystQuality(
            analyst_id=analyst,
            labels=n,
            gold_answered=records[analyst].gold_answered,
            gold_accuracy=(
                1 - records[analyst].gold_wrong / records[analyst].gold_answered
                if records[analyst].gold_answered
                else None
            ),
            audited=records[analyst].audited,
            overturned=records[analyst].overturned,
            overturn_rate=overturns.get(analyst),
            throughput=labels_per_active_hour(n, active[analyst]),
            median_seconds=float(np.median(np.frombuffer(seconds[analyst]))),
            audit_rate=rates[analyst],
        )
        for analyst, n in counts.items()
    ]


# Active time: a label counts the time since the analyst's previous label when that came at
# most ACTIVE_GAP earlier (they were working through the queue), else only the seconds
# they spent on the item itself (the first item after a break). Counting whole clock hours
# with a label in them, as this did before, made ten labels across 10:55-11:05 two active
# hours (5 an hour instead of 60), and one label in an hour a full hour.
ACTIVE_GAP = timedelta(minutes=10)
# Below this much active time a rate per hour says nothing: the figure is left out.
MIN_ACTIVE = timedelta(minutes=5)


def active_seconds(
    moments: Sequence[tuple[datetime, float]], *, gap: timedelta = ACTIVE_GAP
) -> float:
    """An analyst's active time, in seconds, from their labels' (created_at, seconds spent)
    in time order."""
    total = 0.0
    previous: datetime | None = None
    for at, spent in moments:
        since = (at - previous).total_seconds() if previous is not None else None
        total += since if since is not None and since <= gap.total_seconds() else max(0.0, spent)
        previous = at
    return total


def labels_per_active_hour(
    labels: int, seconds: float, *, minimum: timedelta = MIN_ACTIVE
) -> float | None:
    """Labels per hour of active time; None under `minimum` of it."""
    if seconds < minimum.total_seconds():
        return None
    return labels / (seconds / 3600)


KEEP_RUNS = 200  # about two days at the beat's 15 minutes


def quality_compute(*, now: datetime | None = None, window: timedelta = WINDOW) -> QualityRun:
    """Recompute agreement (kappa, alpha, AC1) and analyst quality over the window's labels.
    The reading and arithmetic happen outside any transaction (on SQLite a transaction
    would hold the write lock, and analysts would wait); the results are written in one."""
    now = now or timezone.now()
    since = now - window
    labels = _multi_labels(since)
    categories = list(PolicyCategory.objects.filter(assignable=True))
    stats = agreement_stats(labels, categories)
    quality = analyst_quality(since)
    with transaction.atomic():
        run = QualityRun.objects.create(
            computed_at=now, since=since, label_count=sum(q.labels for q in quality)
        )
        for stat in stats:
            stat.run = run
        for row in quality:
            row.run = run
        AgreementStat.objects.bulk_create(stats)
        AnalystQuality.objects.bulk_create(quality)
        stale = QualityRun.objects.order_by("-id").values_list("id", flat=True)[KEEP_RUNS:]
        pruned, _ = QualityRun.objects.filter(id__in=list(stale)).delete()
        audit_record(
            actor=None,
            verb="quality.compute",
            target=run,
            after={
                "labels": run.label_count,
                "multi_labelled": len({lb.item_id for lb in labels}),
                "agreement_rows": len(stats),
                "analysts": len(quality),
                "pruned_rows": pruned,
            },
        )
    return run


RECOMPUTE_TASK = "review.tasks.quality_compute_requested"


@transaction.atomic
def quality_recompute_request(*, actor: Any) -> OutboxMessage:
    """A lead asks for the statistics now: a message for the workers (the request never
    talks to the broker), one at a time however often they press."""
    waiting = OutboxMessage.objects.filter(
        task=RECOMPUTE_TASK, done_at__isnull=True, started_at__isnull=True
    ).first()
    if waiting is not None:
        return waiting
    message = outbox_write(task=RECOMPUTE_TASK)
    audit_record(actor=actor, verb="quality.recompute_request", target=message, after={})
    return message
