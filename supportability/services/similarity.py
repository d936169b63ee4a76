"""Similar past decisions: the nearest decided merchants to the one under review, read from
the index the retraining chain builds (supportability.ml.similarity holds the arithmetic).

The index carries what the panel shows (decision, category, rationale, date) as it was at
build time, so that the review screen reads nothing above this layer. Each process keeps the
indexes it opened (memory-mapped, so workers share the pages) by the index row's id.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.dateparse import parse_datetime

from ..audit import audit_record
from ..ml.features import NUMERIC_FEATURES, merchant_text, numeric_matrix
from ..ml.similarity import IndexUnreadable, SimilarityConfig, index_write
from ..ml.similarity import SimilarityIndex as LoadedIndex
from ..models import Decision, SimilarityIndex

FOLDER = "similarity"  # under VAR_DIR
RATIONALE_KEPT = 1_000  # characters of each rationale kept in the index
INDEXES_KEPT = 2  # the newest indexes whose files stay on disk (a worker may still read one)
# A folder is left alone this long after it was written, whatever the rows say (see _prune).
PRUNE_AFTER_SECONDS = 3_600
NO_INDEX = "No index yet: the next retraining builds it"


@dataclass(frozen=True)
class SimilarDecision:
    merchant_id: int
    external_id: str
    name: str
    decision: str  # the Decision value, e.g. "prohibited"
    decision_label: str  # in words, e.g. "Prohibited"
    category_name: str
    rationale: str
    decided_at: datetime
    similarity: float  # 0..1


@dataclass(frozen=True)
class SimilarPanel:
    neighbours: list[SimilarDecision] = field(default_factory=list)
    # "" when neighbours were found; otherwise why not, in words.
    unavailable: str = ""


@dataclass(frozen=True)
class DecidedMerchant:
    """One decided merchant as the index keeps it: what the vectors are made of, and what
    the panel shows about its final decision."""

    merchant_id: int
    external_id: str
    name: str
    country: str
    mcc: str
    description: str
    website_text: str
    refund_rate: float
    dispute_rate: float
    cnp_share: float
    account_age_days: float
    monthly_volume: float
    decision: str
    category_name: str
    rationale: str
    decided_at: datetime


def _text(m: Any) -> str:
    return merchant_text(m.name, m.description, m.website_text, country=m.country, mcc=m.mcc)


def _numbers(m: Any) -> dict[str, float]:
    return {name: getattr(m, name) for name in NUMERIC_FEATURES}


def _meta(row: DecidedMerchant) -> dict[str, Any]:
    return {
        "external_id": row.external_id,
        "name": row.name,
        "decision": row.decision,
        "category_name": row.category_name,
        "rationale": row.rationale[:RATIONALE_KEPT],
        "decided_at": row.decided_at.isoformat(),
    }


def _source_sha256(rows: Sequence[DecidedMerchant], config: SimilarityConfig) -> str:
    digest = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True).encode())
    for row in rows:
        digest.update(json.dumps(asdict(row), sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()


def _folder(index: SimilarityIndex) -> Path:
    return Path(settings.VAR_DIR) / index.location


def similarity_index_build(
    *,
    rows: Sequence[DecidedMerchant],
    actor: Any = None,
    config: SimilarityConfig | None = None,
) -> SimilarityIndex | None:
    """Index these decided merchants and make it the one the review screen reads. The same
    rows as the newest index, whose files are intact, give that index back unchanged (no new
    row, no event); no rows give None. The vectors are written before the transaction, which
    only records the new row and its audit event."""
    config = config or SimilarityConfig()
    rows = sorted(rows, key=lambda r: r.merchant_id)
    if not rows:
        return None
    source = _source_sha256(rows, config)
    newest = SimilarityIndex.objects.first()
    if newest is not None and newest.source_sha256 == source and _intact(newest):
        return newest
    # numeric_matrix refuses a non-finite number, naming the row: stored rows are checked
    # by CHECK constraints, so that would be a bug worth surfacing.
    numerics = numeric_matrix([_numbers(r) for r in rows])
    folder, sha256 = index_write(
        Path(settings.VAR_DIR) / FOLDER,
        texts=[_text(r) for r in rows],
        numerics=numerics,
        merchant_ids=[r.merchant_id for r in rows],
        meta=[_meta(r) for r in rows],
        config=config,
    )
    index = _record(
        actor=actor,
        size=len(rows),
        config=config,
        location=str(Path(FOLDER) / folder.name),
        sha256=sha256,
        source=source,
    )
    _prune()
    return index


@transaction.atomic
def _record(
    *, actor: Any, size: int, config: SimilarityConfig, location: str, sha256: str, source: str
) -> SimilarityIndex:
    user = actor if getattr(actor, "is_authenticated", False) else None
    index = SimilarityIndex.objects.create(
        built_by=user,
        size=size,
        config=config.as_dict(),
        location=location,
        sha256=sha256,
        source_sha256=source,
    )
    audit_record(
        actor=actor,
        verb="similarity_index.build",
        target=index,
        after={"decided_merchants": size, "sha256": sha256, "location": location},
    )
    return index


def _intact(index: SimilarityIndex) -> bool:
    try:
        _open(index)
    except IndexUnreadable:
        return False
    return True


def _prune(*, now: float | None = None) -> None:
    """Remove the files of all but the newest indexes (their rows stay, as history). A
    folder younger than PRUNE_AFTER_SECONDS stays whatever its row says: a build running
    at the same moment (a retried message, the demo seed) may have written it and not yet
    committed the row that points at it."""
    keep = {
        Path(loc).name
        for loc in SimilarityIndex.objects.values_list("location", flat=True)[:INDEXES_KEPT]
    }
    root = Path(settings.VAR_DIR) / FOLDER
    cutoff = (now if now is not None else time.time()) - PRUNE_AFTER_SECONDS
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in keep or folder.name.startswith("."):
            continue
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


# (index id, folder, sha256) -> the opened index, or why it cannot be opened (not retried in this
# process: a new build is a new row). Only the newest is read, so an older one is dropped.
_OPENED: dict[tuple[int, str, str], LoadedIndex | str] = {}


def _open(index: SimilarityIndex) -> LoadedIndex:
    key = (index.pk, str(_folder(index)), index.sha256)
    opened = _OPENED.get(key)
    if opened is None:
        try:
            opened = LoadedIndex(_folder(index), sha256=index.sha256)
        except IndexUnreadable as error:
            opened = str(error)
        _OPENED.clear()
        _OPENED[key] = opened
    if isinstance(opened, str):
        raise IndexUnreadable(opened)
    return opened


def similar_decisions(*, merchant: Any, k: int = 5) -> SimilarPanel:
    """The k decided merchants nearest to `merchant`, never the merchant itself. Never
    raises for a missing or damaged index: the panel says why it is empty."""
    index = SimilarityIndex.objects.first()
    if index is None:
        return SimilarPanel(unavailable=NO_INDEX)
    try:
        loaded = _open(index)
    except IndexUnreadable as error:
        return SimilarPanel(
            unavailable=f"Similar decisions are unavailable: the index {error}. "
            "The next retraining rebuilds it."
        )
    try:
        numbers = numeric_matrix([_numbers(merchant)])
    except ValueError:
        return SimilarPanel(unavailable="This merchant's numbers cannot be read, so none match.")
    found = loaded.query(_text(merchant), numbers[0], k=k, exclude=merchant.pk)
    neighbours = [_decision(n.merchant_id, loaded.meta(n.row), n.similarity) for n in found]
    if not neighbours:
        return SimilarPanel(unavailable="No other merchant has been decided yet.")
    return SimilarPanel(neighbours=neighbours)


def _decision(merchant_id: int, meta: Mapping[str, Any], similarity: float) -> SimilarDecision:
    decision = str(meta.get("decision", ""))
    decided_at = parse_datetime(str(meta.get("decided_at", "")))
    return SimilarDecision(
        merchant_id=merchant_id,
        external_id=str(meta.get("external_id", "")),
        name=str(meta.get("name", "")),
        decision=decision,
        decision_label=str(Decision(decision).label) if decision in Decision.values else decision,
        category_name=str(meta.get("category_name", "")),
        rationale=str(meta.get("rationale", "")),
        decided_at=decided_at or datetime.min.replace(tzinfo=UTC),
        similarity=round(similarity, 4),
    )
