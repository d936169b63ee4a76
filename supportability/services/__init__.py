"""Writes of the core domain. Each service checks the current state, changes it in one
transaction and records an audit event. Split by sub-domain: accounts (users, tokens),
modelling (snapshots, model versions, scoring), data_issues (stored rows that break the
stored-value rules)."""

from __future__ import annotations

from .accounts import token_create, token_revoke, user_create
from .data_issues import data_issues_record
from .modelling import (
    SCORE_CHUNK,
    SnapshotRow,
    champion,
    merchant_features,
    merchants_create,
    merchants_scorable,
    merchants_score,
    model_promote,
    model_train,
    model_version_register,
    snapshot_create,
    snapshot_sha256,
)

__all__ = [
    "SCORE_CHUNK",
    "SnapshotRow",
    "champion",
    "data_issues_record",
    "merchant_features",
    "merchants_create",
    "merchants_scorable",
    "merchants_score",
    "model_promote",
    "model_train",
    "model_version_register",
    "snapshot_create",
    "snapshot_sha256",
    "token_create",
    "token_revoke",
    "user_create",
]
