"""The review side of the similar-decisions index: which merchants are decided, and what
their decision said. The retraining chain calls `similar_index_refresh` after the clean
labels are recomputed; supportability.services.similarity builds and serves the index.

A merchant is decided when it has a clean label (review.services.clean_labels: gold,
adjudication, audit, agreement or estimate) and none of its review items is still open
(queued, leased, escalated or awaiting sign-off): a merchant back in review is left out
until it is settled again. Gold merchants stay queued for ever, so they are never shown,
and never give a gold answer away. The rationale and date come from the source that
settled it: the gold answer, the lead's final adjudication, the lead's audit (their own
words when they overturned, the analyst's when they agreed), else the latest of the
agreeing labels that says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from labeling.models import GoldAnswer, Label, ReviewItem
from supportability.services.similarity import DecidedMerchant, similarity_index_build

from ..models import Adjudication, CleanLabel, QaAudit

MERCHANT_FIELDS = (
    "external_id",
    "name",
    "country",
    "mcc",
    "description",
    "website_text",
    "refund_rate",
    "dispute_rate",
    "cnp_share",
    "account_age_days",
    "monthly_volume",
)
OPEN = (
    ReviewItem.Status.QUEUED,
    ReviewItem.Status.LEASED,
    ReviewItem.Status.ESCALATED,
    ReviewItem.Status.SIGNOFF,
)


def similar_index_refresh(*, actor: Any = None) -> Any:
    """Rebuild the similar-decisions index from the current clean labels; safe to run twice
    (the same decisions give back the same index). None when nothing is decided yet."""
    return similarity_index_build(rows=list(decided_merchants()), actor=actor)


def decided_merchants() -> Iterator[DecidedMerchant]:
    """Every decided merchant with no open item, with its final decision's words and date."""
    clean = (
        CleanLabel.objects.annotate(
            open=Exists(ReviewItem.objects.filter(merchant=OuterRef("merchant"), status__in=OPEN))
        )
        .filter(open=False)
        .order_by("merchant_id")
        .values_list(
            "merchant_id",
            "decision",
            "category_id",
            "category__name",
            "source",
            "label_ids",
            "computed_at",
            *(f"merchant__{f}" for f in MERCHANT_FIELDS),
        )
    )
    rows = list(clean.iterator(chunk_size=5_000))
    said = _why(rows)
    for merchant_id, decision, _, category_name, _, _, computed_at, *merchant in rows:
        rationale, decided_at = said.get(merchant_id, ("", computed_at))
        fields = dict(zip(MERCHANT_FIELDS, merchant, strict=True))
        yield DecidedMerchant(
            merchant_id=merchant_id,
            decision=decision,
            category_name=category_name,
            rationale=rationale,
            decided_at=decided_at,
            **fields,
        )


def _why(rows: list[tuple[Any, ...]]) -> dict[int, tuple[str, datetime]]:
    """merchant -> (rationale, decided at), from the source each clean label names."""
    by_source: dict[str, dict[int, tuple[str, int, list[int]]]] = {}
    for merchant_id, decision, category_id, _, source, label_ids, *_ in rows:
        by_source.setdefault(source, {})[merchant_id] = (decision, category_id, label_ids or [])
    said: dict[int, tuple[str, datetime]] = {}
    gold = by_source.get(CleanLabel.Source.GOLD, {})
    # Whole tables read once rather than `__in` lists, which SQLite caps in length.
    for merchant_id, rationale, at in GoldAnswer.objects.values_list(
        "merchant_id", "rationale", "created_at"
    ):
        if merchant_id in gold:
            said[merchant_id] = (rationale, at)
    adjudicated = by_source.get(CleanLabel.Source.ADJUDICATION, {})
    for merchant_id, rationale, created, signed in (
        Adjudication.objects.filter(status=Adjudication.Status.FINAL)
        .order_by("id")  # the latest final decision wins, as in the clean labels
        .values_list("merchant_id", "rationale", "created_at", "signoff_at")
    ):
        if merchant_id in adjudicated:
            said[merchant_id] = (rationale, signed or created)
    audited = by_source.get(CleanLabel.Source.AUDIT, {})
    for merchant_id, status, rationale, audited_at, label_rationale, label_at in (
        QaAudit.objects.filter(status__in=[QaAudit.Status.AGREED, QaAudit.Status.OVERTURNED])
        .order_by("id")
        .values_list(
            "merchant_id", "status", "rationale", "decided_at", "label__rationale",
            "label__created_at",
        )
    ):  # fmt: skip
        if merchant_id not in audited:
            continue
        words = rationale if status == QaAudit.Status.OVERTURNED else (label_rationale or rationale)
        said[merchant_id] = (words, audited_at or label_at)
    labelled = {
        **by_source.get(CleanLabel.Source.AGREEMENT, {}),
        **by_source.get(CleanLabel.Source.ESTIMATE, {}),
    }
    said.update(_from_labels(labelled))
    return said


def _from_labels(
    labelled: dict[int, tuple[str, int, list[int]]],
) -> dict[int, tuple[str, datetime]]:
    """The latest label that agrees with the clean label and says why; its date is that of
    the latest agreeing label."""
    ids = {label_id for _, _, label_ids in labelled.values() for label_id in label_ids}
    said: dict[int, tuple[str, datetime]] = {}
    for label_id, merchant_id, decision, category_id, rationale, at in (
        Label.objects.order_by("created_at", "id")
        .values_list("id", "merchant_id", "decision", "category_id", "rationale", "created_at")
        .iterator(chunk_size=5_000)
    ):
        clean = labelled.get(merchant_id)
        if label_id not in ids or clean is None or (decision, category_id) != clean[:2]:
            continue
        previous = said.get(merchant_id, ("", at))[0]
        said[merchant_id] = (rationale or previous, at)
    return said
