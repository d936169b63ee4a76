"""The label's hot path on PostgreSQL, in plain SQL (see claim_sql.py for why): lock the
lease with its item, then record the label, end the lease and move the item on in one
statement, and audit it through the audit writer (supportability.audit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from supportability.audit import AUDIT_INSERT

LOCK = """
    SELECT l.id, l.holder_id, l.outcome, l.expires_at, l.claimed_at, l.score_id,
           i.id, i.merchant_id, i.status, i.label_count, i.required_labels, i.gold_id,
           i.score_hidden,
           s.probability, s.model_version_id, g.decision, g.category_id,
           m.external_id, m.name
    FROM labeling_lease l
    JOIN labeling_reviewitem i ON i.id = l.item_id
    JOIN supportability_merchant m ON m.id = i.merchant_id
    LEFT JOIN supportability_score s ON s.id = l.score_id
    LEFT JOIN labeling_goldanswer g ON g.id = i.gold_id
    WHERE l.token = %s AND l.item_id = %s
    FOR UPDATE OF l, i
"""

RECORD = f"""
    WITH label AS (
        INSERT INTO labeling_label
            (item_id, merchant_id, analyst_id, lease_id, decision, category_id, rationale,
             seconds_spent, score_seen, score_hidden, model_version_seen_id,
             policy_version_id, idempotency_key, gold_correct, created_at)
        VALUES (%(item)s, %(merchant)s, %(user)s, %(lease)s, %(decision)s, %(category)s,
                %(rationale)s, %(seconds)s, %(score_seen)s, %(score_hidden)s, %(model_seen)s,
                %(policy)s, %(key)s, %(gold_correct)s, %(now)s)
        RETURNING id
    ), lease AS (
        UPDATE labeling_lease SET outcome = 'labelled', ended_at = %(now)s
        WHERE id = %(lease)s
    ), item AS (
        UPDATE labeling_reviewitem
        SET label_count = %(label_count)s, status = %(status)s, updated_at = %(now)s
        WHERE id = %(item)s
    ), audit AS (
        {AUDIT_INSERT}
        SELECT %(user)s, %(username)s, 'label.submit', 'labeling.label', label.id::text,
               %(merchant)s, %(before)s::jsonb, %(after)s::jsonb, %(now)s
        FROM label
    )
    SELECT id FROM label
"""  # noqa: S608 (constants only: every value is a parameter)


@dataclass(frozen=True)
class LockedLease:
    lease_id: int
    holder_id: int
    outcome: str
    expires_at: datetime
    claimed_at: datetime
    score_id: int | None
    item_id: int
    merchant_id: int
    item_status: str
    label_count: int
    required_labels: int
    gold_id: int | None
    score_hidden: bool
    score_probability: float | None
    score_model_version_id: int | None
    gold_decision: str | None
    gold_category_id: int | None
    merchant_external_id: str
    merchant_name: str


def lock(*, lease_token: Any, item_id: int) -> LockedLease | None:
    with connection.cursor() as cursor:
        cursor.execute(LOCK, [lease_token, item_id])
        row = cursor.fetchone()
    return LockedLease(*row) if row is not None else None


def record(**values: Any) -> int:
    """Insert the label, apply its consequences and write its audit event (unsealed, as
    supportability.audit writes one) in one statement; returns the label's id."""
    values = values | {"before": json.dumps(values["before"]), "after": json.dumps(values["after"])}
    with connection.cursor() as cursor:
        cursor.execute(RECORD, values)
        return int(cursor.fetchone()[0])
