"""The snapshot API's one write: freeze the current clean labels, refusing an empty set.

It composes `review.services.clean_labels`; the refusal lives here, in the transaction, so
that a snapshot of nothing is never written (nor audited) even for an instant."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from review.services.clean_labels import clean_labels_refresh, snapshot_from_clean_labels
from review.services.errors import Conflict
from supportability.models import LabelSnapshot

NOTHING_TO_SNAPSHOT = "no clean labels usable for training yet"


class SnapshotEmpty(Conflict):
    """No clean label may train a model: there is nothing to freeze (answered 409)."""


def snapshot_request(*, actor: Any, refresh: bool = False, note: str = "") -> LabelSnapshot:
    """Freeze the clean labels usable for training, after recomputing them if asked.

    The refresh is its own transaction (it runs the EM outside one, by design); the snapshot
    is another. The emptiness check reads the row count of the snapshot just written, inside
    its transaction, rather than counting beforehand: a refresh committing in between cannot
    slip an empty snapshot past it."""
    if refresh:
        clean_labels_refresh(actor=actor)
    filters: dict[str, Any] = {"refreshed": refresh}
    if note:
        filters["note"] = note
    with transaction.atomic():
        snapshot = snapshot_from_clean_labels(actor=actor, filters=filters)
        if snapshot.row_count == 0:
            raise SnapshotEmpty(NOTHING_TO_SNAPSHOT)  # rolls back the snapshot and its audit
    return snapshot
