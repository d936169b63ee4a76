"""The periodic agreement and analyst-quality statistics, written to tables that the
agreement page and its CSV read (a Celery beat task recomputes them)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling.models import Label
from supportability.audit import audit_record
from supportability.models import PolicyCategory

from ..agreement import Agreement, krippendorff_alpha, pair_agreement
from ..models import AgreementStat, AnalystQuality, QualityRun
from .qa import analyst_audit_rates, analyst_records

WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class _Label:
    item_id: int
    analyst_id: int
    value: str  # "decision/category"
    seconds: float
    at: datetime


def _labels(since: datetime) -> list[_Label]:
    rows = (
        Label.objects.filter(created_at__gte=since)
        .order_by("item_id", "id")
        .values_list(
            "item_id", "analyst_id", "decision", "category__slug", "seconds_spent", "created_at"
        )
    )
    return [_Label(i, a, f"{d}/{c}", s, t) for i, a, d, c, s, t in rows.iterator(chunk_size=5_000)]


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


def analyst_quality(labels: list[_Label]) -> list[AnalystQuality]:
    by_analyst: dict[int, list[_Label]] = defaultdict(list)
    for label in labels:
        by_analyst[label.analyst_id].append(label)
    records = analyst_records(by_analyst)
    rates = analyst_audit_rates(by_analyst)
    rows = []
    for analyst, own in by_analyst.items():
        record = records[analyst]
        hours = {lb.at.replace(minute=0, second=0, microsecond=0) for lb in own}
        rows.append(
            AnalystQuality(
                analyst_id=analyst,
                labels=len(own),
                gold_answered=record.gold_answered,
                gold_accuracy=(
                    1 - record.gold_wrong / record.gold_answered if record.gold_answered else None
                ),
                audited=record.audited,
                overturned=record.overturned,
                overturn_rate=record.overturned / record.audited if record.audited else None,
                throughput=len(own) / len(hours),
                median_seconds=statistics.median(lb.seconds for lb in own),
                audit_rate=rates[analyst],
            )
        )
    return rows


@transaction.atomic
def quality_compute(*, now: datetime | None = None, window: timedelta = WINDOW) -> QualityRun:
    """Recompute agreement (kappa, alpha, AC1) and analyst quality over the window's labels."""
    now = now or timezone.now()
    labels = _labels(now - window)
    run = QualityRun.objects.create(computed_at=now, since=now - window, label_count=len(labels))
    categories = list(PolicyCategory.objects.filter(assignable=True))
    stats = agreement_stats(labels, categories)
    quality = analyst_quality(labels)
    for stat in stats:
        stat.run = run
    for row in quality:
        row.run = run
    AgreementStat.objects.bulk_create(stats)
    AnalystQuality.objects.bulk_create(quality)
    audit_record(
        actor=None,
        verb="quality.compute",
        target=run,
        after={"labels": len(labels), "agreement_rows": len(stats), "analysts": len(quality)},
    )
    return run
