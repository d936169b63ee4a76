"""QA audits: every single-labelled item is drawn for a lead's audit with a probability
that adapts to its analyst's record (qa_sampling.py); a lead agrees or overturns."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from labeling.models import Label, ReviewItem
from supportability.audit import audit_event, audit_record, audit_record_many

from ..models import Adjudication, QaAudit
from ..qa_sampling import Record, audit_rate
from ..selectors import review_rules
from .adjudication import Decided, validate_decided
from .errors import Conflict, InvalidInput, NotAllowed
from .lead_work import lead_lease, lease_finish, require_lead

# Not for security: which labels are drawn. Seedable in tests.
chance = random.Random()  # noqa: S311
# Held by a draw in progress (a PostgreSQL advisory lock key).
DRAW_LOCK = 0x51A0D2A4


def analyst_records(analyst_ids: Iterable[int]) -> dict[int, Record]:
    """Each analyst's checked work: gold answers and decided QA audits."""
    ids = list(analyst_ids)
    gold = (
        Label.objects.filter(analyst_id__in=ids, gold_correct__isnull=False)
        .values("analyst_id")
        .annotate(answered=Count("id"), wrong=Count("id", filter=Q(gold_correct=False)))
    )
    audits = (
        QaAudit.objects.filter(
            analyst_id__in=ids, status__in=[QaAudit.Status.AGREED, QaAudit.Status.OVERTURNED]
        )
        .values("analyst_id")
        .annotate(done=Count("id"), overturned=Count("id", filter=Q(status="overturned")))
    )
    gold_by = {row["analyst_id"]: row for row in gold}
    audits_by = {row["analyst_id"]: row for row in audits}
    return {
        analyst: Record(
            gold_answered=gold_by.get(analyst, {}).get("answered", 0),
            gold_wrong=gold_by.get(analyst, {}).get("wrong", 0),
            audited=audits_by.get(analyst, {}).get("done", 0),
            overturned=audits_by.get(analyst, {}).get("overturned", 0),
        )
        for analyst in ids
    }


def analyst_audit_rates(analyst_ids: Iterable[int]) -> dict[int, float]:
    rules = review_rules()
    return {
        analyst: audit_rate(
            record, base=rules.audit_rate, floor=rules.audit_floor, cap=rules.audit_cap
        )
        for analyst, record in analyst_records(analyst_ids).items()
    }


def _undrawn_single_labels() -> Any:
    """Labels that decided an item alone (one required label, not gold, not escalated or
    adjudicated) and have not been drawn yet."""
    return (
        Label.objects.filter(
            item__required_labels=1,
            item__gold__isnull=True,
            item__status=ReviewItem.Status.DONE,
        )
        .exclude(decision="unsure")
        .filter(
            ~Exists(QaAudit.objects.filter(label=OuterRef("pk"))),
            ~Exists(Adjudication.objects.filter(item=OuterRef("item_id"))),
        )
        .order_by("id")
    )


@transaction.atomic
def qa_audits_draw(*, batch: int = 5_000) -> int:
    """Draw each new single label for audit at its analyst's current rate (the periodic
    task calls this). Every label gets a row, drawn or not, with the probability it had:
    that is what makes the audited sample an unbiased estimate of each analyst's error
    rate. Returns how many were drawn."""
    if connection.vendor == "postgresql":
        # Two overlapping runs would draw the same labels: the second one stands aside.
        # (SQLite's IMMEDIATE transactions serialise them; the second sees them drawn.)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [DRAW_LOCK])
            if not cursor.fetchone()[0]:
                return 0
    labels = list(
        _undrawn_single_labels()
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("id", "item_id", "merchant_id", "analyst_id")[:batch]
    )
    if not labels:
        return 0
    rates = analyst_audit_rates({analyst for *_, analyst in labels})
    now = timezone.now()
    audits = [
        QaAudit(
            label_id=label_id,
            item_id=item_id,
            merchant_id=merchant_id,
            analyst_id=analyst,
            rate=rates[analyst],
            status=(
                QaAudit.Status.PENDING
                if chance.random() < rates[analyst]
                else QaAudit.Status.NOT_DRAWN
            ),
            drawn_at=now,
        )
        for label_id, item_id, merchant_id, analyst in labels
    ]
    QaAudit.objects.bulk_create(audits, batch_size=1_000)
    drawn = [a for a in audits if a.status == QaAudit.Status.PENDING]
    # bulk_create sets primary keys on PostgreSQL and SQLite alike.
    audit_record_many(
        audit_event(
            actor=None,
            verb="qa_audit.draw",
            target=a,
            merchant_id=a.merchant_id,
            after={"label": a.label_id, "analyst": a.analyst_id, "rate": round(a.rate, 4)},
        )
        for a in drawn
    )
    return len(drawn)


@transaction.atomic
def qa_audit_record(
    *,
    user: Any,
    item_id: int,
    lease_token: Any,
    agree: bool,
    rationale: str,
    decision: str = "",
    category_slug: str = "",
) -> QaAudit:
    """A lead's verdict on a drawn label they hold: agree, or overturn with their own
    decision and category. Either way with a rationale."""
    require_lead(user)
    lease = lead_lease(user=user, item_id=item_id, lease_token=lease_token)
    audit = (
        QaAudit.objects.select_for_update()
        .select_related("label__category")
        .filter(item_id=lease.item_id, status=QaAudit.Status.PENDING)
        .first()
    )
    if audit is None or lease.item.status != ReviewItem.Status.DONE:
        raise Conflict("This item has no audit waiting.")
    if audit.analyst_id == user.pk:
        raise NotAllowed("You cannot audit your own label.")
    label = audit.label
    if agree:
        if not rationale.strip():
            raise InvalidInput("rationale", "A rationale is required.")
        category = None
    else:
        category = validate_decided(Decided(decision, category_slug, rationale))
        if (decision, category.pk) == (label.decision, label.category_id):
            raise InvalidInput(
                "decision", "An overturn changes the decision or category; otherwise agree."
            )
    audit.status = QaAudit.Status.AGREED if agree else QaAudit.Status.OVERTURNED
    audit.lead = user
    audit.lease = lease
    audit.decision = "" if agree else decision
    audit.category = category
    audit.rationale = rationale.strip()
    audit.decided_at = timezone.now()
    audit.save(
        update_fields=["status", "lead", "lease", "decision", "category", "rationale", "decided_at"]
    )
    lease_finish(lease)
    audit_record(
        actor=user,
        verb="qa_audit.agree" if agree else "qa_audit.overturn",
        target=audit,
        merchant_id=audit.merchant_id,
        before={
            "status": QaAudit.Status.PENDING,
            "decision": label.decision,
            "category": label.category.slug,
            "analyst": audit.analyst_id,
        },
        after={
            "status": audit.status,
            "decision": audit.decision or label.decision,
            "category": category.slug if category else label.category.slug,
        },
    )
    return audit
