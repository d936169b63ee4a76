"""The lead's overview: the team's state at a glance, read in a fixed number of queries.

- queues: depth, oldest waiting item and its SLA, items past the SLA (2 queries);
- throughput per analyst and per day, and gold accuracy per day, over the last 14 days,
  from one pass over those days' labels (1 query);
- agreement over time: the overall kappa, alpha and AC1 of the last quality run of each day
  (1 query);
- model versions and their metrics (1 query);
- the retraining chain: its latest run (1), the run's state while it is active (2), and the
  outbox messages waiting or running (1);
- the latest few audit events, in words (1, and up to 3 for the names they mention);
- stored rows that break the rules (1).

The estimates (prevalence with intervals) and the automation-bias comparison come from
`estimates.py`, with their own queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from labeling.models import Label
from labeling.selectors import QueueStats, queue_stats_by_queue
from supportability.models import AuditEvent, DataIssue, ModelVersion, OutboxMessage, TrainingRun

from .. import selectors
from ..models import AgreementStat
from ..services.quality import MIN_ACTIVE, active_seconds, labels_per_active_hour
from .audit_words import AuditLine, audit_lines
from .charts import ColumnChart, TrendChart, column_chart, trend_chart
from .queues import sla_of

DAYS = 14
RECENT_EVENTS = 6
MODELS = 6
# How often the beat recomputes agreement (review.tasks): said where there is no run yet.
QUALITY_EVERY = "every 15 minutes"


@dataclass(frozen=True)
class QueueLine:
    stats: QueueStats

    @property
    def oldest_minutes(self) -> int | None:
        seconds = self.stats.oldest_queued_seconds
        return None if seconds is None else int(seconds // 60)

    @property
    def sla_words(self) -> str:
        """The target in the largest unit that holds it exactly ("24 hours", "90 minutes")."""
        sla = self.stats.sla_minutes
        return "" if sla is None else sla_of(sla).words

    @property
    def oldest_words(self) -> str:
        """How long the oldest item has waited, in minutes, hours or days as they fit."""
        minutes = self.oldest_minutes
        if minutes is None:
            return ""
        if minutes < 120:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h"
        return f"{minutes // (24 * 60)} days"

    @property
    def oldest_over_sla(self) -> bool:
        sla = self.stats.sla_minutes
        return sla is not None and self.oldest_minutes is not None and self.oldest_minutes > sla


@dataclass(frozen=True)
class AnalystLine:
    username: str
    labels: int
    active_seconds: float
    per_active_hour: float | None
    median_seconds: float | None

    @property
    def why_no_rate(self) -> str:
        minutes = MIN_ACTIVE.total_seconds() / 60
        return f"under {minutes:.0f} minutes active ({self.active_seconds:.0f} s)"


@dataclass(frozen=True)
class ModelLine:
    pk: int
    name: str
    status: str
    created_at: datetime
    n_train: int | None
    average_precision: float | None
    roc_auc: float | None
    ece: float | None
    holdout_rows: int | None


@dataclass(frozen=True)
class Chain:
    """The retraining chain's state: the latest run, and the outbox's open messages."""

    run: TrainingRun | None
    state: selectors.RunState | None
    waiting: int  # outbox messages not yet taken by a worker
    running: int  # taken, not done


@dataclass(frozen=True)
class Overview:
    queues: list[QueueLine]
    breached: int
    since: date
    per_day: ColumnChart
    labels_total: int
    labels_today: int
    analysts: list[AnalystLine]
    agreement: TrendChart | None
    agreement_why: str
    gold: TrendChart | None
    gold_answered: int
    gold_why: str
    models: list[ModelLine]
    chain: Chain
    events: list[tuple[AuditEvent, AuditLine]]
    data_issues: int


def _days(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


def _labels(since: datetime) -> dict[str, Any]:
    """One pass over the labels since `since`, each analyst's in time order."""
    per_day: dict[date, int] = defaultdict(int)
    gold: dict[date, list[int]] = defaultdict(lambda: [0, 0])  # answered, correct
    moments: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    rows = (
        Label.objects.filter(created_at__gte=since)
        .order_by("analyst_id", "created_at", "id")
        .values_list("analyst__username", "created_at", "seconds_spent", "gold_correct")
    )
    for username, at, spent, correct in rows.iterator(chunk_size=10_000):
        day = timezone.localtime(at).date()
        per_day[day] += 1
        moments[username].append((at, spent))
        if correct is not None:
            gold[day][0] += 1
            gold[day][1] += bool(correct)
    return {"per_day": per_day, "gold": gold, "moments": moments}


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _analysts(moments: dict[str, list[tuple[datetime, float]]]) -> list[AnalystLine]:
    lines = []
    for username, times in sorted(moments.items()):
        active = active_seconds(times)
        lines.append(
            AnalystLine(
                username=username,
                labels=len(times),
                active_seconds=active,
                per_active_hour=labels_per_active_hour(len(times), active),
                median_seconds=_median([spent for _, spent in times]),
            )
        )
    return lines


def _agreement(days: list[date], since: datetime) -> tuple[TrendChart | None, str]:
    """The overall coefficients of each day's last quality run."""
    last: dict[date, tuple[float | None, float | None, float | None]] = {}
    rows = (
        AgreementStat.objects.filter(scope=AgreementStat.Scope.OVERALL, run__computed_at__gte=since)
        .order_by("run__computed_at", "id")
        .values_list("run__computed_at", "kappa", "alpha", "ac1")
    )
    for at, kappa, alpha, ac1 in rows:
        last[timezone.localtime(at).date()] = (kappa, alpha, ac1)
    labels = [f"{d:%m-%d}" for d in days]
    series = [
        (name, [last.get(d, (None, None, None))[k] for d in days])
        for k, name in enumerate(("kappa", "alpha", "AC1"))
    ]
    chart = trend_chart(labels, series)
    if chart is not None:
        return chart, ""
    if not last:
        return None, (
            f"No quality run with an item labelled twice in {DAYS} days: runs {QUALITY_EVERY}, "
            "and agreement needs items with two independent labels (overlap or gold items)."
        )
    return None, "Undefined so far: every doubly labelled item got one answer (no variation)."


def _gold(days: list[date], gold: dict[date, list[int]]) -> tuple[TrendChart | None, int, str]:
    labels = [f"{d:%m-%d}" for d in days]
    accuracy = [gold[d][1] / gold[d][0] if gold.get(d) and gold[d][0] else None for d in days]
    answered = sum(v[0] for v in gold.values())
    chart = trend_chart(labels, [("gold accuracy", accuracy)])
    why = (
        ""
        if chart
        else f"No gold item answered in {DAYS} days: gold items are mixed in at each "
        "queue's gold rate (Queues page)."
    )
    return chart, answered, why


def models_recent() -> list[ModelLine]:
    """The latest model versions with the metrics the overview shows (one query)."""
    rows = (
        ModelVersion.objects.exclude(status=ModelVersion.Status.EXTERNAL)
        .order_by("-created_at", "-id")
        .values_list(
            "pk",
            "name",
            "version",
            "status",
            "created_at",
            "metrics__n_train",
            "metrics__average_precision",
            "metrics__roc_auc",
            "metrics__ece",
            "metrics__holdout_rows",
        )[:MODELS]
    )
    return [
        ModelLine(pk, f"{name}@{version}", status, at, *(_finite(v) for v in metrics))
        for pk, name, version, status, at, *metrics in rows
    ]


def _finite(value: Any) -> Any:
    """A stored metric as a number, or None when it is missing or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value == value and abs(value) != float("inf") else None


def _chain() -> Chain:
    run = selectors.run_latest()
    counts = OutboxMessage.objects.filter(done_at__isnull=True).aggregate(
        waiting=Count("id", filter=Q(started_at__isnull=True)),
        running=Count("id", filter=Q(started_at__isnull=False)),
    )
    return Chain(run, selectors.run_state(run), counts["waiting"], counts["running"])


def overview() -> Overview:
    today = timezone.localdate()
    days = _days(today)
    since = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    queues = [QueueLine(s) for s in queue_stats_by_queue()]
    read = _labels(since)
    per_day = [(f"{d:%m-%d}", read["per_day"].get(d, 0)) for d in days]
    agreement, agreement_why = _agreement(days, since)
    gold, gold_answered, gold_why = _gold(days, read["gold"])
    events = (
        AuditEvent.objects.select_related("merchant")
        .exclude(verb="lease.heartbeat")
        .order_by("-id")[:RECENT_EVENTS]
    )
    return Overview(
        queues=queues,
        breached=sum(q.stats.breached for q in queues),
        since=days[0],
        per_day=column_chart(per_day),
        labels_total=sum(v for _, v in per_day),
        labels_today=read["per_day"].get(today, 0),
        analysts=_analysts(read["moments"]),
        agreement=agreement,
        agreement_why=agreement_why,
        gold=gold,
        gold_answered=gold_answered,
        gold_why=gold_why,
        models=models_recent(),
        chain=_chain(),
        events=audit_lines(events),
        data_issues=DataIssue.objects.filter(resolved_at__isnull=True).count(),
    )
