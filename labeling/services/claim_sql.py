"""The claim's hot path on PostgreSQL, in plain SQL.

Measured on the project's 2-core machine, compiling one ORM query costs about 1.4 ms of
CPU against 0.15 ms for its round trip (bench/RESULTS.md): the ORM claim spent most of its
time building SQL. These statements are fixed strings with parameters; they implement the
same rules as the ORM path in claims.py (which SQLite uses), and the same tests run on both.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from supportability.audit import AUDIT_INSERT

from ..models import Lease

CLAIMABLE = """
    i.status = 'queued' AND i.gold_id IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM labeling_label l WHERE l.item_id = i.id AND l.analyst_id = %(user)s)
    AND NOT EXISTS (
        SELECT 1 FROM labeling_lease s
        WHERE s.item_id = i.id AND s.holder_id = %(user)s AND s.outcome = 'released'
          AND s.ended_at > %(cooldown)s)
"""

# Read the head of the queue (an index scan of `window` rows, no locks), then lock the
# first of those rows nobody else is taking, at random among equal priorities. The status
# is re-checked on the locked row.
# The head is read per queue (LATERAL), so each read is an ordered scan of that queue's
# partial index however many queues the analyst works.
LOCK_HEAD = f"""
    SELECT i.id, i.queue_id, i.merchant_id, i.score_id
    FROM labeling_reviewitem i
    WHERE i.status = 'queued' AND i.gold_id IS NULL AND i.id IN (
        SELECT head.id FROM unnest(%(queues)s::bigint[]) AS q(id)
        CROSS JOIN LATERAL (
            SELECT i.id, i.priority FROM labeling_reviewitem i
            WHERE i.queue_id = q.id AND {CLAIMABLE}
            ORDER BY i.priority DESC, i.id LIMIT %(window)s) AS head
        ORDER BY head.priority DESC, head.id LIMIT %(window)s)
    ORDER BY i.priority DESC, random()
    LIMIT 1
    FOR UPDATE OF i SKIP LOCKED
"""

# Every one of the head rows was taken meanwhile: the plain head-of-queue claim, again per
# queue so that it stays an ordered index scan (with `queue_id = ANY(...)` PostgreSQL would
# sort every queued row). It may lock one row per open queue; the best is leased, the
# others are released at commit.
LOCK_NEXT = f"""
    SELECT x.id, x.queue_id, x.merchant_id, x.score_id
    FROM unnest(%(queues)s::bigint[]) AS q(id)
    CROSS JOIN LATERAL (
        SELECT i.id, i.queue_id, i.merchant_id, i.score_id, i.priority
        FROM labeling_reviewitem i
        WHERE i.queue_id = q.id AND {CLAIMABLE}
        ORDER BY i.priority DESC, i.id
        LIMIT 1
        FOR UPDATE OF i SKIP LOCKED) AS x
    ORDER BY x.priority DESC, x.id
    LIMIT 1
"""

# Lease the locked item and write its audit event in one statement (one round trip: on a
# busy host each one waits to be scheduled). The event is inserted unsealed, as
# supportability.audit writes it; the sealer links it into the hash chain later.
LEASE = f"""
    WITH item AS (
        UPDATE labeling_reviewitem SET status = 'leased', updated_at = %(now)s
        WHERE id = %(item)s
        RETURNING id, merchant_id, score_id
    ), lease AS (
        INSERT INTO labeling_lease
            (item_id, holder_id, token, score_id, claimed_at, expires_at, outcome)
        SELECT id, %(user)s, %(token)s, score_id, %(now)s, %(expires)s, 'active' FROM item
        RETURNING id, item_id, score_id
    ), audit AS (
        {AUDIT_INSERT}
        SELECT %(user)s, %(username)s, 'item.claim', 'labeling.reviewitem', item.id::text,
               item.merchant_id, %(before)s::jsonb, %(after)s::jsonb, %(now)s
        FROM item
    )
    SELECT lease.id, lease.item_id, lease.score_id, item.merchant_id FROM lease, item
"""

HELD = """
    SELECT l.id, l.item_id, l.token, l.score_id, l.claimed_at, l.expires_at
    FROM labeling_lease l
    WHERE l.holder_id = %s AND l.outcome = 'active'
    FOR UPDATE OF l
"""

QUEUES = """
    SELECT q.id, q.slug, q.gold_rate, q.required_role
    FROM labeling_queue q
    WHERE NOT q.paused AND (q.open_to_all OR EXISTS (
        SELECT 1 FROM labeling_queue_members m WHERE m.queue_id = q.id AND m.user_id = %s))
"""


@dataclass(frozen=True)
class QueueRow:
    id: int
    slug: str
    gold_rate: float
    required_role: str


@dataclass(frozen=True)
class ItemRow:
    id: int
    queue_id: int
    merchant_id: int
    score_id: int | None


def _lease(values: dict[str, Any]) -> Lease:
    lease = Lease(outcome=Lease.Outcome.ACTIVE, **values)
    lease._state.adding = False
    lease._state.db = connection.alias
    return lease


def held_lease(user_id: int) -> Lease | None:
    with connection.cursor() as cursor:
        cursor.execute(HELD, [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    keys = ("id", "item_id", "token", "score_id", "claimed_at", "expires_at")
    return _lease(dict(zip(keys, row, strict=True)) | {"holder_id": user_id})


def open_queues(user_id: int) -> list[QueueRow]:
    with connection.cursor() as cursor:
        cursor.execute(QUEUES, [user_id])
        return [QueueRow(*row) for row in cursor.fetchall()]


def lock_next(
    *, user_id: int, queue_ids: list[int], cooldown: datetime, window: int
) -> ItemRow | None:
    params: dict[str, Any] = {
        "user": user_id,
        "queues": queue_ids,
        "cooldown": cooldown,
        "window": window,
    }
    with connection.cursor() as cursor:
        cursor.execute(LOCK_HEAD, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(LOCK_NEXT, params)
            row = cursor.fetchone()
    return ItemRow(*row) if row is not None else None


def lease_item(
    *, item_id: int, user_id: int, username: str, now: datetime, ttl: timedelta
) -> Lease:
    token = uuid.uuid4()
    expires = now + ttl
    with connection.cursor() as cursor:
        cursor.execute(
            LEASE,
            {
                "item": item_id,
                "user": user_id,
                "token": token,
                "now": now,
                "expires": expires,
                "username": username,
                "before": json.dumps({"status": "queued"}),
                "after": json.dumps(
                    {"status": "leased", "lease": str(token), "expires_at": expires.isoformat()}
                ),
            },
        )
        lease_id, item, score_id, _merchant = cursor.fetchone()
    return _lease(
        {
            "id": lease_id,
            "item_id": item,
            "holder_id": user_id,
            "token": token,
            "score_id": score_id,
            "claimed_at": now,
            "expires_at": expires,
        }
    )
