"""Reads for a merchant's timeline: its history merged from several sources, each one
function in `TIMELINE_SOURCES`, and its scores drawn over time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from django.utils import timezone

from labeling.models import Label, ReviewItem
from supportability.models import AuditEvent, Score

from ..models import Adjudication, QaAudit, ReReview
from .audit_words import audit_lines

# A merchant's timeline ----------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a merchant. Every string is plain text (the template
    escapes it); `details` are (name, value) pairs; `text` is free text, like a rationale."""

    at: datetime
    kind: str
    title: str
    details: tuple[tuple[str, str], ...] = ()
    text: str = ""
    actor: str = ""


TimelineSource = Callable[[int], Iterable[TimelineEntry]]


def timeline_scores(merchant_id: int) -> Iterator[TimelineEntry]:
    scores = (
        Score.objects.filter(merchant_id=merchant_id)
        .select_related("model_version", "predicted_category")
        .only(
            "created_at",
            "probability",
            "model_version__name",
            "model_version__version",
            "predicted_category__name",
        )
    )
    for score in scores:
        category = (
            score.predicted_category.name
            if score.predicted_category
            else "none: scored as supportable"
        )
        yield TimelineEntry(
            at=score.created_at,
            kind="score",
            title=f"Scored {score.probability:.2f} by {score.model_version}",
            details=(("predicted category", category),),
        )


def timeline_review_items(merchant_id: int) -> Iterator[TimelineEntry]:
    items = (
        ReviewItem.objects.filter(merchant_id=merchant_id)
        .select_related("queue")
        .only(
            "created_at",
            "reason",
            "status",
            "propensity",
            "required_labels",
            "label_count",
            "gold",
            "queue__name",
        )
    )
    for item in items:
        yield TimelineEntry(
            at=item.created_at,
            kind="item",
            title=f"Queued for review: {item.get_reason_display()}"
            + (" (gold item)" if item.gold_id else ""),
            details=(
                ("queue", item.queue.name),
                ("propensity", f"{item.propensity:.3g}"),
                ("status", item.get_status_display()),
                ("labels", f"{item.label_count} of {item.required_labels}"),
            ),
        )


def timeline_labels(merchant_id: int) -> Iterator[TimelineEntry]:
    labels = (
        Label.objects.filter(merchant_id=merchant_id)
        .select_related("analyst", "category", "model_version_seen")
        .only(
            "created_at",
            "decision",
            "rationale",
            "score_seen",
            "score_hidden",
            "seconds_spent",
            "gold_correct",
            "analyst__username",
            "category__name",
            "model_version_seen__name",
            "model_version_seen__version",
        )
    )
    for label in labels:
        details = [
            (
                "score hidden (the model's)" if label.score_hidden else "score seen",
                "none: the item had no score"
                if label.score_seen is None
                else f"{label.score_seen:.2f}",
            ),
            ("model seen", str(label.model_version_seen or "none: the item had no score")),
            ("seconds", f"{label.seconds_spent:.0f}"),
        ]
        if label.gold_correct is not None:
            details.append(("gold", "correct" if label.gold_correct else "wrong"))
        yield TimelineEntry(
            at=label.created_at,
            kind="label",
            title=f"Labelled {label.decision} · {label.category.name}",
            details=tuple(details),
            text=label.rationale,
            actor=label.analyst.get_username(),
        )


def timeline_audit_events(merchant_id: int) -> Iterator[TimelineEntry]:
    """The merchant's audit events in words (the names they mention fetched once)."""
    events = list(
        # Heartbeats only say a screen was open: the audit browser has them.
        AuditEvent.objects.filter(merchant_id=merchant_id)
        .exclude(verb="lease.heartbeat")
        .select_related("merchant")
        .only(
            "created_at",
            "actor",
            "actor_label",
            "verb",
            "object_type",
            "object_id",
            "before",
            "after",
            "merchant__external_id",
            "merchant__name",
        )
        .order_by("id")
    )
    for event, line in audit_lines(events):
        yield TimelineEntry(
            at=event.created_at,
            kind="event",
            title=line.sentence,
            details=tuple((change.label, change.text) for change in line.changes),
        )


def timeline_adjudications(merchant_id: int) -> Iterator[TimelineEntry]:
    """Each adjudication, and each later thing that happened to it (sign-off or refusal,
    reopening), as its own entry at its own time."""
    adjudications = (
        Adjudication.objects.filter(merchant_id=merchant_id)
        .select_related("lead", "category", "signoff_by", "reopened_by")
        .order_by("id")
    )
    for a in adjudications:
        details = [
            ("status", a.get_status_display()),
            ("for training", "yes" if a.for_training else f"no: {a.training_note}"),
        ]
        if a.supersedes_id:
            details.append(("replaces", "an earlier adjudication, reopened"))
        yield TimelineEntry(
            at=a.created_at,
            kind="adjudication",
            title=f"Adjudicated {a.decision} · {a.category.name}"
            + (" (needs a second lead)" if a.requires_signoff else ""),
            details=tuple(details),
            text=a.rationale,
            actor=a.lead.get_username(),
        )
        if a.signoff_at and a.signoff_by:
            refused = a.status == Adjudication.Status.REJECTED
            yield TimelineEntry(
                at=a.signoff_at,
                kind="sign-off",
                title="Sign-off refused" if refused else "Signed off (four eyes)",
                text=a.signoff_note,
                actor=a.signoff_by.get_username(),
            )
        if a.reopened_at and a.reopened_by:
            yield TimelineEntry(
                at=a.reopened_at,
                kind="reopen",
                title=f"Reopened the adjudication ({a.decision} · {a.category.name})",
                text=a.reopen_reason,
                actor=a.reopened_by.get_username(),
            )


def timeline_qa_audits(merchant_id: int) -> Iterator[TimelineEntry]:
    audits = (
        QaAudit.objects.filter(merchant_id=merchant_id)
        .exclude(status=QaAudit.Status.NOT_DRAWN)
        .select_related("lead", "category", "analyst")
        .order_by("id")
    )
    for audit in audits:
        yield TimelineEntry(
            at=audit.drawn_at,
            kind="qa-audit",
            title=f"Drawn for QA audit of {audit.analyst.get_username()}'s label",
            details=(("rate", f"{audit.rate:.3g}"),),
        )
        if audit.decided_at and audit.lead:
            answer = f" to {audit.decision} · {audit.category.name}" if audit.category else ""
            yield TimelineEntry(
                at=audit.decided_at,
                kind="qa-audit",
                title=f"Audit: {audit.get_status_display()}{answer}",
                text=audit.rationale,
                actor=audit.lead.get_username(),
            )


def timeline_re_reviews(merchant_id: int) -> Iterator[TimelineEntry]:
    for review in ReReview.objects.filter(merchant_id=merchant_id).order_by("id"):
        yield TimelineEntry(
            at=review.created_at,
            kind="re-review",
            title=f"Sent back for a fresh analyst: {review.decision} · {review.category_slug}",
            details=(
                ("why", review.get_reason_display()),
                (
                    "estimate's confidence"
                    if review.reason == ReReview.Reason.UNCERTAIN
                    else "model P(violating)",
                    f"{review.model_probability:.2f}",
                ),
                ("outcome", review.get_outcome_display()),
            ),
        )


# Each source turns a merchant id into its entries. To show more history (adjudications,
# QA audits), write one more such function and list it here; the page needs no change.
TIMELINE_SOURCES: tuple[TimelineSource, ...] = (
    timeline_scores,
    timeline_review_items,
    timeline_labels,
    timeline_adjudications,
    timeline_qa_audits,
    timeline_re_reviews,
    timeline_audit_events,
)


def merchant_timeline(
    *, merchant_id: int, sources: Sequence[TimelineSource] = TIMELINE_SOURCES
) -> list[TimelineEntry]:
    """Everything that happened to a merchant, oldest first (one query per source). At the
    same instant, entries keep the order of their sources."""
    entries = [entry for source in sources for entry in source(merchant_id)]
    entries.sort(key=attrgetter("at"))
    return entries


# A merchant's scores, drawn ------------------------------------------------------------


@dataclass(frozen=True)
class ScorePoint:
    at: datetime
    probability: float
    model: str
    version: str


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class ChartSeries:
    name: str
    color: str
    points: tuple[ChartPoint, ...]
    legend_y: int

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class ScoreChart:
    """An SVG drawing's numbers: probability (0 to 1, up) against time (right), one line
    per model name and one point per score."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: tuple[ChartSeries, ...]
    gridlines: tuple[tuple[float, str], ...]
    first: datetime
    last: datetime


CHART_COLORS = ("#1f5fbf", "#b42318", "#067647", "#b54708", "#6941c6", "#0e7090")


def score_points(*, merchant_id: int) -> list[ScorePoint]:
    rows = (
        Score.objects.filter(merchant_id=merchant_id)
        .order_by("created_at", "id")
        .values_list("created_at", "probability", "model_version__name", "model_version__version")
    )
    return [ScorePoint(*row) for row in rows]


def score_chart(
    points: Sequence[ScorePoint], *, width: int = 640, height: int = 180
) -> ScoreChart | None:
    if not points:
        return None
    left, right, top, bottom = 40, width - 12, 12, height - 24
    first = min(p.at for p in points)
    last = max(p.at for p in points)
    span = (last - first).total_seconds()

    def x(at: datetime) -> float:
        share = (at - first).total_seconds() / span if span else 0.5
        return left + share * (right - left)

    def y(probability: float) -> float:
        return bottom - probability * (bottom - top)

    models = list(dict.fromkeys(p.model for p in points))
    series = tuple(
        ChartSeries(
            name=model,
            color=CHART_COLORS[i % len(CHART_COLORS)],
            points=tuple(
                ChartPoint(
                    x(p.at),
                    y(p.probability),
                    f"{p.model}@{p.version}: {p.probability:.2f} "
                    f"({timezone.localtime(p.at):%Y-%m-%d %H:%M})",
                )
                for p in sorted(points, key=attrgetter("at"))
                if p.model == model
            ),
            legend_y=top + 10 + 14 * i,
        )
        for i, model in enumerate(models)
    )
    gridlines = tuple((y(v), f"{v:.1f}") for v in (0.0, 0.5, 1.0))
    return ScoreChart(width, height, left, right, top, bottom, series, gridlines, first, last)
