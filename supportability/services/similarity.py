"""Similar past decisions: the nearest decided merchants to the one under review, read from
the index the retraining chain builds (supportability.ml.similarity holds the arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


def similar_decisions(*, merchant: Any, k: int = 5) -> SimilarPanel:
    """The k decided merchants nearest to `merchant`, never the merchant itself."""
    return SimilarPanel(unavailable="No index yet: the next retraining builds it")
