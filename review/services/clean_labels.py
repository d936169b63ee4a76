"""Clean labels: one answer per merchant from everything people said, in order of
authority — a gold answer, a lead's final adjudication, a lead's QA audit, independent
labels that agree, otherwise a reliability-weighted estimate (Dawid-Skene: each analyst's
confusion matrix estimated by EM from every label, anchored on the items whose truth a lead
or gold answer settled). Recomputed in bulk; snapshots freeze it for training."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from labeling.models import GoldAnswer, Label, ReviewItem
from supportability.audit import audit_record
from supportability.ml.dawid_skene import CrowdEstimate, dawid_skene
from supportability.models import Decision, LabelSnapshot, PolicyCategory
from supportability.services import SnapshotRow, snapshot_create

from ..models import Adjudication, CleanLabel, QaAudit, ReReview

# An estimate less sure than this is kept (and shown) but does not train a model.
MIN_TRAINING_CONFIDENCE = 0.6


@dataclass
class Consensus:
    merchant_id: int
    value: str  # "decision/category"
    source: str
    confidence: float
    label_ids: list[int] = field(default_factory=list)
    for_training: bool = True


def _split(value: str) -> tuple[str, str]:
    decision, category = value.split("/", 1)
    return decision, category


def consensus(
    *,
    labels: Mapping[int, list[tuple[int, int, str]]],  # merchant -> [(label id, analyst, value)]
    gold: Mapping[int, str],
    adjudicated: Mapping[int, tuple[str, bool]],  # merchant -> (value, for training)
    audited: Mapping[int, str],
    estimate: CrowdEstimate | None,
) -> list[Consensus]:
    """The precedence, as a pure function of what was said (tested without a database)."""
    out = []
    for merchant in sorted(set(labels) | set(gold) | set(adjudicated) | set(audited)):
        own = labels.get(merchant, [])
        ids = [label_id for label_id, _, _ in own]
        values = {value for _, _, value in own}
        if merchant in gold:
            out.append(Consensus(merchant, gold[merchant], CleanLabel.Source.GOLD, 1.0, ids))
        elif merchant in adjudicated:
            value, usable = adjudicated[merchant]
            source = CleanLabel.Source.ADJUDICATION
            out.append(Consensus(merchant, value, source, 1.0, ids, for_training=usable))
        elif merchant in audited:
            out.append(Consensus(merchant, audited[merchant], CleanLabel.Source.AUDIT, 1.0, ids))
        elif len({analyst for _, analyst, _ in own}) >= 2 and len(values) == 1:
            (value,) = values
            confidence = (
                estimate.posteriors[merchant][estimate.classes.index(value)]
                if (estimate is not None and merchant in estimate.posteriors)
                else 1.0
            )
            out.append(
                Consensus(merchant, value, CleanLabel.Source.AGREEMENT, float(confidence), ids)
            )
        elif estimate is not None and merchant in estimate.posteriors:
            value, confidence = estimate.label(merchant)
            out.append(
                Consensus(
                    merchant,
                    value,
                    CleanLabel.Source.ESTIMATE,
                    float(confidence),
                    ids,
                    for_training=confidence >= MIN_TRAINING_CONFIDENCE,
                )
            )
    return out


def _said() -> tuple[
    dict[int, list[tuple[int, int, str]]],
    dict[int, str],
    dict[int, tuple[str, bool]],
    dict[int, str],
]:
    labels: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for label_id, merchant, analyst, decision, slug in (
        Label.objects.exclude(decision=Decision.UNSURE)
        .order_by("id")
        .values_list("id", "merchant_id", "analyst_id", "decision", "category__slug")
        .iterator(chunk_size=10_000)
    ):
        labels[merchant].append((label_id, analyst, f"{decision}/{slug}"))
    gold = {
        merchant: f"{decision}/{slug}"
        for merchant, decision, slug in GoldAnswer.objects.values_list(
            "merchant_id", "decision", "category__slug"
        )
    }
    adjudicated: dict[int, tuple[str, bool]] = {}
    for merchant, decision, slug, usable in (
        Adjudication.objects.filter(status=Adjudication.Status.FINAL)
        .order_by("id")  # the latest final decision on a merchant wins
        .values_list("merchant_id", "decision", "category__slug", "for_training")
    ):
        adjudicated[merchant] = (f"{decision}/{slug}", usable)
    audited: dict[int, str] = {}
    for merchant, status, decision, slug, label_decision, label_slug in (
        QaAudit.objects.filter(status__in=[QaAudit.Status.AGREED, QaAudit.Status.OVERTURNED])
        .order_by("id")
        .values_list(
            "merchant_id", "status", "decision", "category__slug", "label__decision",
            "label__category__slug",
        )
    ):  # fmt: skip
        overturned = status == QaAudit.Status.OVERTURNED
        audited[merchant] = f"{decision}/{slug}" if overturned else f"{label_decision}/{label_slug}"
    return labels, gold, adjudicated, audited


def _estimate(
    labels: Mapping[int, list[tuple[int, int, str]]], known: Mapping[int, str]
) -> CrowdEstimate | None:
    annotations = [
        (merchant, analyst, value) for merchant, own in labels.items() for _, analyst, value in own
    ]
    if not annotations:
        return None
    classes = sorted({value for *_, value in annotations} | set(known.values()))
    return dawid_skene(annotations, classes=classes, known=cast(Mapping[Hashable, str], known))


def clean_labels_refresh(*, actor: Any = None) -> int:
    """Recompute every merchant's clean label, and settle the noise check's re-reviews whose
    fresh label has come in. Reads and EM run outside the transaction; the table is replaced
    in one short one."""
    labels, gold, adjudicated, audited = _said()
    known = {**{m: v for m, (v, _) in adjudicated.items()}, **audited, **gold}
    estimate = _estimate(labels, {m: v for m, v in known.items() if m in labels})
    rows = consensus(
        labels=labels, gold=gold, adjudicated=adjudicated, audited=audited, estimate=estimate
    )
    propensity = dict(
        ReviewItem.objects.values("merchant_id")
        .annotate(p=Min("propensity"))
        .values_list("merchant_id", "p")
    )
    categories = dict(PolicyCategory.objects.values_list("slug", "id"))
    now = timezone.now()
    with transaction.atomic():
        CleanLabel.objects.all().delete()
        CleanLabel.objects.bulk_create(
            [
                CleanLabel(
                    merchant_id=row.merchant_id,
                    decision=_split(row.value)[0],
                    category_id=categories[_split(row.value)[1]],
                    source=row.source,
                    confidence=min(1.0, max(0.0, row.confidence)),
                    label_ids=row.label_ids,
                    for_training=row.for_training,
                    propensity=propensity.get(row.merchant_id, 1.0),
                    computed_at=now,
                )
                for row in rows
            ],
            batch_size=2_000,
        )
        settled = _re_reviews_settle(now)
        by_source: dict[str, int] = defaultdict(int)
        for row in rows:
            by_source[row.source] += 1
        audit_record(
            actor=actor,
            verb="clean_labels.refresh",
            target=CleanLabel(pk=0),  # the whole table
            after={
                "clean_labels": len(rows),
                "by_source": by_source,
                "re_reviews_settled": settled,
            },
        )
    return len(rows)


def _re_reviews_settle(now: Any) -> int:
    """A re-review is settled once its item is done again: the label stood if the clean
    label is unchanged, and was wrong otherwise."""
    settled = 0
    pending = (
        ReReview.objects.select_for_update(of=("self",))
        .filter(outcome=ReReview.Outcome.PENDING, item__status=ReviewItem.Status.DONE)
        .select_related("merchant__clean_label__category")
    )
    for review in pending:
        clean = getattr(review.merchant, "clean_label", None)
        if clean is None:
            continue
        same = (clean.decision, clean.category.slug) == (review.decision, review.category_slug)
        review.outcome = ReReview.Outcome.CONFIRMED if same else ReReview.Outcome.CORRECTED
        review.resolved_at = now
        review.save(update_fields=["outcome", "resolved_at"])
        settled += 1
    return settled


def snapshot_rows(*, training_only: bool = True) -> list[SnapshotRow]:
    """The current clean labels as snapshot rows: weight = confidence (a lead's word counts
    fully, an estimate by how sure it is); the propensity travels for unbiased evaluation."""
    clean = CleanLabel.objects.select_related("category", "merchant").order_by("merchant_id")
    if training_only:
        clean = clean.filter(for_training=True)
    return [
        SnapshotRow(
            merchant_id=c.merchant_id,
            decision=c.decision,
            category_slug=c.category.slug,
            source=c.source,
            weight=round(c.confidence, 6),
            confidence=round(c.confidence, 6),
            propensity=round(c.propensity, 6),
            features_ref=c.merchant.updated_at.isoformat(),
        )
        for c in clean.iterator(chunk_size=5_000)
    ]


def snapshot_from_clean_labels(
    *, actor: Any = None, filters: dict[str, Any] | None = None
) -> LabelSnapshot:
    """Freeze the current clean labels usable for training. Unchanged labels give the same
    content hash."""
    filters = {"source": "clean_labels", "training_only": True, **(filters or {})}
    return snapshot_create(rows=snapshot_rows(), filters=filters, actor=actor)
