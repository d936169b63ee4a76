"""Reads for the lead's screens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from labeling.models import Label, Lease, ReviewItem
from supportability.models import TrainingRun

from .models import (
    Adjudication,
    AgreementStat,
    AnalystQuality,
    QaAudit,
    QualityRun,
    ReviewSettings,
)


def run_latest() -> TrainingRun | None:
    return TrainingRun.objects.select_related("model_version").order_by("-id").first()


@dataclass(frozen=True)
class RunState:
    """What a lead is told about an active retraining beyond its step and progress."""

    waiting: bool  # its next step waits for a worker (or for the broker)
    waiting_since: Any  # datetime of the oldest waiting message
    broker_error: str  # the broker refused the last attempt to hand the step over
    heartbeat_seconds: int | None  # since the running step's last heartbeat


def run_state(run: TrainingRun | None) -> RunState | None:
    if run is None or not run.is_active:
        return None
    open_messages = run.outbox.filter(done_at__isnull=True)
    running = open_messages.filter(started_at__isnull=False).exists()
    waiting = open_messages.filter(started_at__isnull=True).order_by("created_at").first()
    now = timezone.now()
    return RunState(
        waiting=waiting is not None and not running,
        waiting_since=waiting.created_at if waiting else None,
        broker_error=waiting.publish_error if waiting else "",
        heartbeat_seconds=int((now - run.heartbeat_at).total_seconds())
        if running and run.heartbeat_at
        else None,
    )


@dataclass(frozen=True)
class GoldAccuracy:
    analyst: str
    answered: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


def gold_accuracy() -> list[GoldAccuracy]:
    """Each analyst's record on gold items, worst first."""
    rows = (
        Label.objects.filter(gold_correct__isnull=False)
        .values("analyst__username")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
        .order_by("analyst__username")
    )
    records = [GoldAccuracy(r["analyst__username"], r["answered"], r["correct"]) for r in rows]
    return sorted(records, key=lambda r: (r.accuracy, r.analyst))


@dataclass(frozen=True)
class ReviewRules:
    audit_rate: float
    audit_floor: float
    audit_cap: float
    four_eyes: frozenset[str]  # category slugs
    retrain_min_new_labels: int = 200
    retrain_min_agreement: float = 0.6


DEFAULT_FOUR_EYES = frozenset({"sanctioned-jurisdictions", "adult-content"})


def review_rules() -> ReviewRules:
    """The settings leads set (ReviewSettings), or the defaults until they first save."""
    row = ReviewSettings.objects.prefetch_related("four_eyes").filter(pk=1).first()
    if row is None:
        row = ReviewSettings()
        slugs = DEFAULT_FOUR_EYES
    else:
        slugs = frozenset(c.slug for c in row.four_eyes.all())
    return ReviewRules(
        row.audit_rate,
        row.audit_floor,
        row.audit_cap,
        slugs,
        row.retrain_min_new_labels,
        row.retrain_min_agreement,
    )


@dataclass(frozen=True)
class LabelSeen:
    """An analyst's label as the lead sees it: with the analyst's gold record."""

    label: Label
    gold_answered: int
    gold_correct: int

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None


@dataclass(frozen=True)
class LeadItem:
    lease: Lease
    item: ReviewItem
    labels: list[LabelSeen]
    history: list[Adjudication]  # every adjudication of the item, newest first
    pending: Adjudication | None  # awaiting this lead's sign-off
    audit: QaAudit | None  # awaiting this lead's audit


def lead_item(*, lease_id: int) -> LeadItem:
    """Everything the adjudication, sign-off and audit screens show, in a few queries."""
    lease = Lease.objects.select_related(
        "item__merchant", "item__queue", "score__model_version", "score__predicted_category"
    ).get(pk=lease_id)
    item = lease.item
    labels = list(
        Label.objects.filter(item=item)
        .select_related("analyst", "category__parent", "model_version_seen")
        .order_by("id")
    )
    records = {
        row["analyst_id"]: row
        for row in Label.objects.filter(
            analyst_id__in={label.analyst_id for label in labels}, gold_correct__isnull=False
        )
        .values("analyst_id")
        .annotate(answered=Count("id"), correct=Count("id", filter=Q(gold_correct=True)))
    }
    seen = [
        LabelSeen(
            label,
            records.get(label.analyst_id, {}).get("answered", 0),
            records.get(label.analyst_id, {}).get("correct", 0),
        )
        for label in labels
    ]
    history = list(
        item.adjudications.select_related(
            "lead", "category", "signoff_by", "reopened_by", "upheld_label"
        ).order_by("-id")
    )
    pending = next((a for a in history if a.status == Adjudication.Status.AWAITING_SIGNOFF), None)
    audit = (
        QaAudit.objects.select_related("label__category", "analyst")
        .filter(item=item, status=QaAudit.Status.PENDING)
        .first()
    )
    return LeadItem(lease, item, seen, history, pending, audit)


def adjudications_recent(*, limit: int = 20) -> QuerySet[Adjudication]:
    return Adjudication.objects.select_related("merchant", "lead", "category", "signoff_by")[:limit]


def held_lead_lease(*, user: Any) -> Lease | None:
    """The lead's live lease on lead work (not on a queued item), if any."""
    return (
        Lease.objects.filter(
            holder=user, outcome=Lease.Outcome.ACTIVE, expires_at__gt=timezone.now()
        )
        .exclude(item__status=ReviewItem.Status.LEASED)
        .first()
    )


@dataclass(frozen=True)
class QualityPage:
    run: QualityRun | None
    overall: AgreementStat | None
    pairs: list[AgreementStat]
    categories: list[AgreementStat]
    analysts: list[AnalystQuality]


def quality_latest() -> QualityPage:
    run = QualityRun.objects.order_by("-id").first()
    if run is None:
        return QualityPage(None, None, [], [], [])
    stats = list(
        run.agreement.select_related("analyst_a", "analyst_b", "category").order_by("scope", "id")
    )
    return QualityPage(
        run,
        next((s for s in stats if s.scope == AgreementStat.Scope.OVERALL), None),
        [s for s in stats if s.scope == AgreementStat.Scope.PAIR],
        [s for s in stats if s.scope == AgreementStat.Scope.CATEGORY and s.items],
        list(run.analysts.select_related("analyst").order_by("analyst__username")),
    )
