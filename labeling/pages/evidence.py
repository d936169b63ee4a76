"""The evidence side of the review screen: what the merchant says and does, what the model
saw, the policy that applies, and what was decided before."""

from __future__ import annotations

from typing import Any

from ..models import Lease


def evidence(*, lease: Lease | None, user: Any) -> dict[str, Any]:
    """Context for labeling/_item.html's evidence panels (empty without a lease)."""
    if lease is None:
        return {}
    return {}
