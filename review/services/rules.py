"""The lead-set rules of adjudication and QA audit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from supportability.audit import audit_record
from supportability.models import PolicyCategory

from ..models import ReviewSettings
from ..selectors import review_rules
from .errors import InvalidInput
from .lead_work import require_lead


@transaction.atomic
def review_settings_update(
    *,
    actor: Any,
    audit_rate: float,
    audit_floor: float,
    audit_cap: float,
    four_eyes: list[str],
    retrain_min_new_labels: int | None = None,
    retrain_min_agreement: float | None = None,
) -> ReviewSettings:
    require_lead(actor)
    if not 0 < audit_floor <= 1:
        raise InvalidInput("audit_floor", "The floor is a share above 0 and at most 1.")
    if not audit_floor <= audit_rate <= audit_cap:
        raise InvalidInput("audit_rate", "The base rate lies between the floor and the cap.")
    if audit_cap > 1:
        raise InvalidInput("audit_cap", "The cap is a share of at most 1.")
    categories = list(PolicyCategory.objects.filter(slug__in=four_eyes, assignable=True))
    unknown = sorted(set(four_eyes) - {c.slug for c in categories})
    if unknown:
        raise InvalidInput("four_eyes", f"Unknown categories: {', '.join(unknown)}.")
    if retrain_min_new_labels is not None and retrain_min_new_labels < 1:
        raise InvalidInput("retrain_min_new_labels", "At least one new label.")
    if retrain_min_agreement is not None and not -1 <= retrain_min_agreement <= 1:
        raise InvalidInput("retrain_min_agreement", "An agreement coefficient lies in [-1, 1].")
    before = review_rules()
    row, _ = ReviewSettings.objects.select_for_update().get_or_create(pk=1)
    row.audit_rate, row.audit_floor, row.audit_cap = audit_rate, audit_floor, audit_cap
    if retrain_min_new_labels is not None:
        row.retrain_min_new_labels = retrain_min_new_labels
    if retrain_min_agreement is not None:
        row.retrain_min_agreement = retrain_min_agreement
    row.save()
    row.four_eyes.set(categories)
    audit_record(
        actor=actor,
        verb="review_settings.update",
        target=row,
        before={
            "audit_rate": before.audit_rate,
            "audit_floor": before.audit_floor,
            "audit_cap": before.audit_cap,
            "four_eyes": sorted(before.four_eyes),
            "retrain_min_new_labels": before.retrain_min_new_labels,
            "retrain_min_agreement": before.retrain_min_agreement,
        },
        after={
            "audit_rate": audit_rate,
            "audit_floor": audit_floor,
            "audit_cap": audit_cap,
            "four_eyes": sorted(c.slug for c in categories),
            "retrain_min_new_labels": row.retrain_min_new_labels,
            "retrain_min_agreement": row.retrain_min_agreement,
        },
    )
    return row
