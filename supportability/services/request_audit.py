"""Audit events about requests rather than changes: a refused request for a named object
(`access.denied`) and a download of labels or audit data (`export.snapshot`, ...).

Neither has a row of its own to point at: a refused request names an object that may not
exist, or may not be the caller's to see, and the audit CSV is a query. `Requested` is the
target shape for those: a model label and an id, as audit_event reads them from a model.

A refusal is recorded by `AccessDeniedAudit` (supportability/middleware.py) once the view
has answered, in a transaction of its own. Only signed-in callers (a session or a token) on
a route whose URL names an object (a kwarg ending in `_id`) are recorded: an anonymous 401
or 403 and a 404 for an unknown URL are not, or anyone could flood the trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from django.db import IntegrityError, InterfaceError, OperationalError, models, transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.request import Request

from ..audit import audit_record
from ..models import ApiToken, AuditEvent

logger = logging.getLogger(__name__)

# What a URL kwarg names; another kwarg ending in `_id` is recorded as `url.<name>`. Labels
# as strings: this layer does not import the apps above it.
OBJECT_TYPES = {
    "item_id": "labeling.reviewitem",
    "label_id": "labeling.label",
    "queue_id": "labeling.queue",
    "adjudication_id": "review.adjudication",
    "merchant_id": "supportability.merchant",
    "model_id": "supportability.modelversion",
    "run_id": "supportability.trainingrun",
    "snapshot_id": "supportability.labelsnapshot",
}
DENIED_STATUSES = frozenset({403, 404})
# What a write of the trail may raise when the database is busy, gone or racing: a refusal
# that could not be recorded is logged, and the caller still gets the refusal, not a 500.
AUDIT_WRITE_ERRORS = (OperationalError, InterfaceError, IntegrityError)
# An id from a URL is short (ids are digits); a path converter could pass more.
MAX_VALUE = 64


@dataclass(frozen=True)
class ModelLabel:
    label_lower: str


@dataclass(frozen=True)
class Requested:
    """audit_event's target for an object named by a URL or a query: `_meta.label_lower`
    and `pk`, as a model instance has them."""

    _meta: ModelLabel
    pk: str

    @classmethod
    def of(cls, label: str, pk: Any) -> models.Model:
        return cast(models.Model, cls(ModelLabel(label[:64]), str(pk)[:MAX_VALUE]))


def credential(request: HttpRequest | Request) -> str:
    """How the caller signed in: "session", or "token:<name>" for a bearer token."""
    token = getattr(request, "auth", None)
    return f"token:{token.name}" if isinstance(token, ApiToken) else "session"


def request_facts(request: HttpRequest | Request) -> dict[str, Any]:
    """The method, path (no query string, no body), route name and credential."""
    match = request.resolver_match
    return {
        "method": request.method or "",
        "path": request.path[:500],
        "route": match.view_name if match is not None else "",
        "via": credential(request),
    }


def _object_kwargs(request: HttpRequest) -> dict[str, str]:
    match = request.resolver_match
    if match is None:  # an unknown URL
        return {}
    return {
        key: str(value)[:MAX_VALUE] for key, value in match.kwargs.items() if key.endswith("_id")
    }


def access_denied_record(request: HttpRequest, response: HttpResponseBase) -> AuditEvent | None:
    """Record a 403 or 404 a signed-in caller got for an object a URL names, in a
    transaction of its own (the view's has ended, committed or rolled back). Returns the
    event, or None when there is nothing to record or the write failed."""
    if response.status_code not in DENIED_STATUSES:
        return None
    objects = _object_kwargs(request)
    if not objects:
        return None
    # After the view, for an API request: the user DRF authenticated (a token's user).
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    kwarg, value = next(iter(objects.items()))
    after = request_facts(request) | {"status": response.status_code, "kwargs": objects}
    target = Requested.of(OBJECT_TYPES.get(kwarg, f"url.{kwarg.removesuffix('_id')}"), value)
    try:
        with transaction.atomic():
            return audit_record(actor=user, verb="access.denied", target=target, after=after)
    except AUDIT_WRITE_ERRORS:
        logger.warning(
            "access.denied not recorded for %s %s", request.method, request.path, exc_info=True
        )
        return None


def export_record(
    *,
    actor: Any,
    verb: str,
    target: models.Model,
    fmt: str,
    source: dict[str, Any],
    filters: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record a download (`export.snapshot`, `export.audit`, `export.agreement`) before its first
    byte, in a short transaction of its own: a streamed body is read after the view
    returned. `source` says where it went out (request_facts, or a command's name). A
    download whose event can't be written does not start: the error surfaces."""
    after = {"format": fmt, **source}
    if filters:
        after["filters"] = filters
    with transaction.atomic():
        return audit_record(actor=actor, verb=verb, target=target, after=after)
