"""What a retraining learns from and is judged on: the training rows (historical decisions
overridden by the current clean labels) and the held-out fifth of merchants, minus those
whose stored data a model cannot read (counted, and said on the run)."""

from __future__ import annotations

import hashlib

from supportability import validation
from supportability.models import LabelSnapshot, LabelSnapshotRow
from supportability.services import SnapshotRow

from .clean_labels import snapshot_rows

# One merchant in five, chosen by a hash of its id (stable across runs, so no champion
# trained by this chain has seen them), is held out for evaluation.
HOLDOUT_SHARE = 5


def is_holdout(external_id: str) -> bool:
    """By the merchant's external id: the same merchants on every database."""
    digest = hashlib.sha256(f"holdout:{external_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % HOLDOUT_SHARE == 0


def training_rows() -> list[SnapshotRow]:
    """The historical (seed) decisions, overridden by the current clean labels."""
    rows: dict[int, SnapshotRow] = {}
    seed = LabelSnapshot.objects.filter(filters__source="seed").order_by("id").first()
    if seed is not None:
        for merchant_id, decision, category, weight in seed.rows.values_list(
            "merchant_id", "decision", "category_slug", "weight"
        ):
            rows[merchant_id] = SnapshotRow(merchant_id, decision, category, "seed", weight)
    for row in snapshot_rows():
        rows[row.merchant_id] = row
    return [rows[m] for m in sorted(rows)]


def holdout_rows(snapshot: LabelSnapshot) -> tuple[list[LabelSnapshotRow], int]:
    """Held-out rows that were reviewed at a known propensity (not the historical seed),
    and how many were left out because their merchant's data cannot be read."""
    rows = snapshot.rows.exclude(source="seed").select_related("merchant").order_by("merchant_id")
    held = [row for row in rows if is_holdout(row.merchant.external_id)]
    usable = set(
        snapshot.rows.filter(validation.merchant_usable("merchant__")).values_list(
            "merchant_id", flat=True
        )
    )
    return [row for row in held if row.merchant_id in usable], sum(
        row.merchant_id not in usable for row in held
    )


def skipped_note(skipped: int) -> str:
    if not skipped:
        return ""
    return (
        f" {skipped} label{'s' if skipped != 1 else ''} left out: the merchant's stored data"
        " cannot be read by a model (see the data issues)."
    )


__all__ = ["HOLDOUT_SHARE", "holdout_rows", "is_holdout", "skipped_note", "training_rows"]
