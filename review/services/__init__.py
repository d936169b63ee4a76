"""The lead's writes, by sub-domain: retraining, lead work (claims on escalations, sign-offs
and audits), adjudication, QA audits and the periodic quality statistics."""

from __future__ import annotations

from .retraining import (
    DEMO_MODEL_NAME,
    STALE_AFTER,
    RetrainBusy,
    retrain_execute,
    retrain_start,
    training_rows,
)

__all__ = [
    "DEMO_MODEL_NAME",
    "STALE_AFTER",
    "RetrainBusy",
    "retrain_execute",
    "retrain_start",
    "training_rows",
]
