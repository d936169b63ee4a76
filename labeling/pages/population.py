"""A merchant's numbers against everyone's: population percentiles of the numeric signals,
from a table of quantiles computed in one query and kept in Django's cache, so the review
screen reads them without touching the merchants table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db.models import F, Max, Min
from django.db.models.functions import Mod
from django.utils import timezone

from supportability.ml.features import NUMERIC_FEATURES
from supportability.models import Merchant

CACHE_KEY = "labeling:population-quantiles:v1"
CACHE_SECONDS = 15 * 60
# Past this many merchants the table is drawn from every k-th id: percentiles need a few
# tens of thousands of values, not millions, and the query stays one indexed scan.
SAMPLE_MAX = 50_000
GRID = np.linspace(0.0, 1.0, 1001)  # quantiles at every 0.1 %


@dataclass(frozen=True)
class PopulationTable:
    merchants: int  # how many merchants the quantiles come from
    sampled: bool  # True when drawn from every k-th merchant
    computed_at: datetime
    quantiles: dict[str, np.ndarray]  # per feature, the values at GRID

    def percentile(self, feature: str, value: float | None) -> float | None:
        """The share of merchants (0-100) below `value`, ties counted half; None when the
        feature or the value is unknown."""
        grid = self.quantiles.get(feature)
        if grid is None or value is None or not self.merchants:
            return None
        below = np.searchsorted(grid, value, side="left")
        at_or_below = np.searchsorted(grid, value, side="right")
        return float(100.0 * (below + at_or_below) / (2 * len(grid)))


def population_table() -> PopulationTable | None:
    """The cached table, computed on a miss; None when there are no merchants yet."""
    table = cache.get(CACHE_KEY)
    if isinstance(table, PopulationTable):
        return table
    table = population_compute()
    if table is not None:
        cache.set(CACHE_KEY, table, CACHE_SECONDS)
    return table


def population_compute() -> PopulationTable | None:
    """One query over the merchants (two when the table samples): quantiles of each
    numeric signal. Merchants are checked finite and in range by the database, so every
    value is a number."""
    ids = Merchant.objects.aggregate(low=Min("id"), top=Max("id"))
    if ids["top"] is None:
        return None
    rows = Merchant.objects.order_by()
    # Every step-th id from the lowest (ids need not start at 1: a database that has had
    # merchants deleted, or PostgreSQL's sequence in a reused test database).
    step = -(-(ids["top"] - ids["low"] + 1) // SAMPLE_MAX)
    if step > 1:
        rows = rows.alias(slot=Mod(F("id") - ids["low"], step)).filter(slot=0)
    values = np.array(list(rows.values_list(*NUMERIC_FEATURES)), dtype=np.float64)
    if values.size == 0:
        return None
    quantiles = np.quantile(values, GRID, axis=0)
    return PopulationTable(
        merchants=len(values),
        sampled=step > 1,
        computed_at=timezone.now(),
        quantiles={
            name: np.ascontiguousarray(quantiles[:, j]) for j, name in enumerate(NUMERIC_FEATURES)
        },
    )
