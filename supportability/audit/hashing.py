"""The chain's hash function: the one definition the sealer and the verifier share."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64
# The fields the hash covers, besides the previous hash.
HASHED = (
    "seq",
    "actor_id",
    "actor_label",
    "verb",
    "object_type",
    "object_id",
    "merchant_id",
    "before",
    "after",
    "created_at",
)


def _canonical_json(value: Any, *, stored: bool = False) -> Any:
    """The value as the database gives it back. json turns tuples into lists and keys into
    strings; PostgreSQL's jsonb keeps numbers as decimals and prints an integral float in
    full (1e16 comes back as the int 10000000000000000, -0.0 as 0.0): so integral floats
    hash as the integer they are. Other floats round-trip exactly. A value read back from
    the database (`stored`) went through JSON already."""
    if not stored:
        value = json.loads(json.dumps(value))

    def numbers(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: numbers(x) for k, x in v.items()}
        if isinstance(v, list):
            return [numbers(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(Decimal(repr(v)))
        return v

    return numbers(value)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit events need an aware created_at")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: Any, prev_hash: str, *, stored: bool = False) -> str:
    """The chain hash of `event` (anything with the HASHED attributes: an AuditEvent, or a
    migration's historical one) following `prev_hash`. Pure: values read back from the
    database hash the same as the values written; `stored` says they were read back (the
    sealer's and the verifier's case), which skips a JSON round trip."""
    content = {name: getattr(event, name) for name in HASHED}
    content["before"] = _canonical_json(content["before"], stored=stored)
    content["after"] = _canonical_json(content["after"], stored=stored)
    content["created_at"] = _utc(content["created_at"])
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()
