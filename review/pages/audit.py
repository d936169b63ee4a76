"""Reads for the lead's audit browser and its CSV export.

The browser pages by id, newest first, with a keyset (`id < before`), never OFFSET: every
page costs the same however deep the lead goes, and rows written meanwhile do not shift
the pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from supportability.models import AuditEvent, Merchant, PolicyCategory

from .audit_fields import redact
from .audit_words import AuditLine, audit_lines

PAGE_SIZE = 100
# The actor label of events written by the system itself (tasks, detectors' intake).
SYSTEM_ACTOR = "system"


# The audit browser -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the lead asked for; blank means any."""

    actor: str = ""
    # A verb ("label.submit"), or a family of verbs as a prefix ending in "." ("label.").
    verb: str = ""
    # A merchant's external id, or part of its name.
    merchant: str = ""
    # A policy category slug, found in the event's `before` or `after`.
    category: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    line: AuditLine  # the event in words, with the fields it changed


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    # The `before` of the next, older page; None on the last page.
    older: int | None


# What the table shows; the merchant's long texts stay in the database.
_ROW_FIELDS = (
    "id",
    "created_at",
    "actor",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "before",
    "after",
    "merchant",
    "merchant__name",
    "merchant__external_id",
)

CSV_COLUMNS = (
    "id",
    "created_at",
    "actor",
    "verb",
    "object_type",
    "object_id",
    "merchant",
    "before",
    "after",
)


def audit_filtered(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The events matching the filters, unordered. Each filter is a condition on the event
    row (the actor and merchant ones as subqueries, not joins), so the newest-first walk
    down the primary key stops after one page."""
    events = AuditEvent.objects.all()
    if filters.actor:
        # The name recorded with the event ("system" included), or a user's current name.
        users = get_user_model().objects.filter(username=filters.actor).values("pk")
        events = events.filter(Q(actor_label=filters.actor) | Q(actor__in=users))
    if filters.verb.endswith("."):
        events = events.filter(verb__startswith=filters.verb)
    elif filters.verb:
        events = events.filter(verb=filters.verb)
    if filters.merchant:
        merchants = Merchant.objects.filter(
            Q(external_id=filters.merchant) | Q(name__icontains=filters.merchant)
        ).values("pk")
        events = events.filter(merchant__in=merchants)
    if filters.category:
        events = events.filter(
            Q(after__category=filters.category) | Q(before__category=filters.category)
        )
    if filters.since is not None:
        events = events.filter(created_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(created_at__lt=filters.until)
    return events


def audit_page(
    *, filters: AuditFilters, before: int | None = None, size: int = PAGE_SIZE
) -> AuditPage:
    """One page of matching events, newest first, older than event `before` if given."""
    events = audit_filtered(filters).select_related("merchant").only(*_ROW_FIELDS)
    if before is not None:
        events = events.filter(id__lt=before)
    # One row more than the page tells whether an older page exists, without a COUNT.
    batch = list(events.order_by("-id")[: size + 1])
    rows = [AuditRow(e, line) for e, line in audit_lines(batch[:size])]
    return AuditPage(rows=rows, older=batch[size - 1].pk if len(batch) > size else None)


def audit_export_rows(*, filters: AuditFilters) -> Iterator[tuple[Any, ...]]:
    """Every matching event, oldest first, as `CSV_COLUMNS` (JSON as compact text, raw for
    examiners but without secrets: leases, tokens, keys and hashes are dropped). Streams
    from the database in chunks (a server-side cursor on PostgreSQL)."""
    rows = (
        audit_filtered(filters)
        .order_by("id")
        .values_list(
            "id",
            "created_at",
            "actor_label",
            "verb",
            "object_type",
            "object_id",
            "merchant__external_id",
            "before",
            "after",
        )
    )
    for pk, at, actor, verb, object_type, object_id, external_id, before, after in rows.iterator(
        chunk_size=2000
    ):
        yield (
            pk,
            timezone.localtime(at).isoformat(),
            actor,
            verb,
            object_type,
            object_id,
            external_id or "",
            _json(redact(before)),
            _json(redact(after)),
        )


def audit_actors() -> list[str]:
    """The names to offer in the actor filter: the system, then every user who acted."""
    acted = AuditEvent.objects.order_by().filter(actor__isnull=False).values("actor_id")
    users = get_user_model().objects.filter(pk__in=acted).order_by("username")
    return [SYSTEM_ACTOR, *users.values_list("username", flat=True)]


def audit_verbs() -> list[str]:
    """Distinct verbs in the trail, each family (`label.`) before its verbs."""
    verbs = list(AuditEvent.objects.order_by("verb").values_list("verb", flat=True).distinct())
    families = sorted({verb.split(".", 1)[0] + "." for verb in verbs if "." in verb})
    return sorted([*verbs, *families])


def policy_categories() -> list[PolicyCategory]:
    return list(PolicyCategory.objects.select_related("parent"))


def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
