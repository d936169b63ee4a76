"""Snapshots of training rows, model versions, promotion and scoring."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import validation
from ..audit import audit_record
from ..ml.features import NUMERIC_FEATURES, merchant_text, numeric_matrix
from ..ml.folds import near_duplicate_key
from ..ml.model import (
    TrainedModel,
    dump_model,
    load_model_cached,
    sha256_of,
)
from ..ml.training import train_model
from ..models import (
    LabelSnapshot,
    LabelSnapshotRow,
    Merchant,
    ModelVersion,
    PolicyCategory,
    PolicyVersion,
    Score,
)

SCORE_CHUNK = 5_000


# --- snapshots and models -----------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotRow:
    merchant_id: int
    decision: str
    category_slug: str
    source: str
    weight: float = 1.0
    confidence: float = 1.0
    propensity: float = 1.0
    features_ref: str = ""

    def as_list(self) -> list[Any]:
        return [
            self.merchant_id,
            self.features_ref,
            self.decision,
            self.category_slug,
            self.source,
            round(self.confidence, 6),
            round(self.propensity, 6),
            round(self.weight, 6),
        ]


def snapshot_sha256(rows: Sequence[SnapshotRow], *, policy_version: str = "") -> str:
    """The content hash: the policy version and every row, in merchant order, as compact
    JSON lines. Unchanged labels give the same hash, whenever and by whom it is taken."""
    digest = hashlib.sha256(f"policy {policy_version}\n".encode())
    for row in sorted(rows, key=lambda r: r.merchant_id):
        digest.update(json.dumps(row.as_list(), separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@transaction.atomic
def snapshot_create(
    *, rows: Sequence[SnapshotRow], filters: dict[str, Any], actor: Any = None
) -> LabelSnapshot:
    """Freeze a set of training rows under the policy in force. The same rows always give
    the same content hash."""
    policy = PolicyVersion.objects.filter(is_current=True).first()
    snapshot = LabelSnapshot.objects.create(
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        filters=filters,
        policy_version=policy,
        content_sha256=snapshot_sha256(rows, policy_version=policy.version if policy else ""),
        row_count=len(rows),
    )
    LabelSnapshotRow.objects.bulk_create(
        [
            LabelSnapshotRow(
                snapshot=snapshot,
                merchant_id=row.merchant_id,
                features_ref=row.features_ref,
                decision=row.decision,
                category_slug=row.category_slug,
                source=row.source,
                confidence=row.confidence,
                propensity=row.propensity,
                weight=row.weight,
            )
            for row in rows
        ],
        batch_size=2_000,
    )
    audit_record(
        actor=actor,
        verb="snapshot.create",
        target=snapshot,
        after={"rows": len(rows), "sha256": snapshot.content_sha256, "filters": filters},
    )
    return snapshot


def merchant_features(merchants: Sequence[Merchant]) -> tuple[list[str], Any]:
    texts = [
        merchant_text(m.name, m.description, m.website_text, country=m.country, mcc=m.mcc)
        for m in merchants
    ]
    numeric = numeric_matrix([{f: getattr(m, f) for f in NUMERIC_FEATURES} for m in merchants])
    return texts, numeric


def model_train(
    *, snapshot: LabelSnapshot, seed: int = 0, exclude: Collection[int] = ()
) -> TrainedModel:
    """Fit a model on a snapshot's rows, leaving out the merchants in `exclude` (held out
    for evaluation). Near-duplicate merchants (one registered domain, else one first word
    of the name) share a cross-validation fold. Rows whose merchant data a model cannot
    read (stored before the stored-value rules: see supportability.data_checks) are left
    out and counted in the model's metrics as `skipped_rows`, so that one bad row never
    stops a retraining. Pure computation: nothing is written."""
    excluded = set(exclude)
    usable = set(
        snapshot.rows.filter(validation.merchant_usable("merchant__")).values_list(
            "merchant_id", flat=True
        )
    )
    rows, skipped = [], 0
    for row in snapshot.rows.select_related("merchant").order_by("merchant_id"):
        if row.merchant_id in excluded:
            continue
        if row.merchant_id in usable:
            rows.append(row)
        else:
            skipped += 1
    merchants = [row.merchant for row in rows]
    texts, numeric = merchant_features(merchants)
    trained = train_model(
        texts,
        numeric,
        [row.decision for row in rows],
        [row.category_slug for row in rows],
        sample_weight=np.array([row.weight for row in rows], dtype=float),
        groups=np.array(
            [near_duplicate_key(m.url, m.name) or f"merchant:{m.pk}" for m in merchants]
        ),
        seed=seed,
    )
    trained.metrics["skipped_rows"] = skipped
    return trained


@transaction.atomic
def model_version_register(
    *,
    name: str,
    version: str,
    trained: TrainedModel,
    snapshot: LabelSnapshot | None,
    actor: Any = None,
) -> ModelVersion:
    blob = dump_model(trained)
    model_version = ModelVersion.objects.create(
        name=name,
        version=version,
        status=ModelVersion.Status.CANDIDATE,
        artifact=blob,
        artifact_sha256=sha256_of(blob),
        metrics=trained.metrics,
        snapshot=snapshot,
    )
    audit_record(
        actor=actor,
        verb="model.register",
        target=model_version,
        after={"name": name, "version": version, "sha256": model_version.artifact_sha256},
    )
    return model_version


@transaction.atomic
def model_promote(*, model_version: ModelVersion, actor: Any = None) -> ModelVersion:
    """Make a candidate the champion and retire the previous champion. Idempotent."""
    model_version = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if model_version.status == ModelVersion.Status.CHAMPION:
        return model_version
    if model_version.status != ModelVersion.Status.CANDIDATE:
        raise ValueError(f"only a candidate can be promoted, not a {model_version.status} model")
    previous = list(
        ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.CHAMPION)
    )
    for old in previous:
        old.status = ModelVersion.Status.RETIRED
        old.save(update_fields=["status"])
    model_version.status = ModelVersion.Status.CHAMPION
    model_version.promoted_at = timezone.now()
    model_version.save(update_fields=["status", "promoted_at"])
    audit_record(
        actor=actor,
        verb="model.promote",
        target=model_version,
        before={"champion": [str(m) for m in previous]},
        after={"champion": str(model_version)},
    )
    return model_version


def champion() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).first()


def merchants_score(
    *,
    model_version: ModelVersion,
    merchants: QuerySet[Merchant] | None = None,
    chunk_size: int = SCORE_CHUNK,
    actor: Any = None,
) -> int:
    """Score merchants with a stored model, chunk by chunk (one transaction per chunk, so a
    crash loses at most a chunk). Safe to run twice: merchants this model scored already
    are skipped, and existing scores are kept. Returns how many merchants were scored.

    The bulk path: merchants are read as plain rows, the model answers in arrays and JSON
    text (``TrainedModel.score_batch``, the same scores and explanations as ``predict``),
    and PostgreSQL takes the rows by COPY."""
    if model_version.artifact is None:
        raise ValueError(f"{model_version} has no artifact to score with")
    trained = load_model_cached(
        bytes(model_version.artifact), expected_sha256=model_version.artifact_sha256
    )
    categories = dict(PolicyCategory.objects.values_list("slug", "id"))
    queryset = (merchants if merchants is not None else Merchant.objects.all()).order_by("id")
    # Merchants whose data a model cannot read (stored before the stored-value rules) get
    # no score rather than failing the run (rescoring counts them: merchants_unscorable).
    queryset = queryset.filter(validation.merchant_usable())
    columns = ("id", "name", "description", "website_text", "country", "mcc", *NUMERIC_FEATURES)
    scored = 0
    last_id = 0
    while True:
        rows = list(queryset.filter(id__gt=last_id).values_list(*columns)[:chunk_size])
        if not rows:
            break
        first_id, last_id = rows[0][0], rows[-1][0]
        done = set(
            Score.objects.filter(
                model_version=model_version, merchant_id__gte=first_id, merchant_id__lte=last_id
            ).values_list("merchant_id", flat=True)
        )
        rows = [row for row in rows if row[0] not in done]
        if not rows:
            continue
        texts = [merchant_text(r[1], r[2], r[3], country=r[4], mcc=r[5]) for r in rows]
        numeric = numeric_matrix([dict(zip(NUMERIC_FEATURES, r[6:], strict=True)) for r in rows])
        batch = trained.score_batch(texts, numeric)
        now = timezone.now()
        new_scores = [
            (row[0], min(1.0, max(0.0, probability)), categories.get(category), explanation)
            for row, probability, category, explanation in zip(
                rows,
                batch.probabilities.tolist(),
                batch.categories,
                batch.explanations,
                strict=True,
            )
        ]
        with transaction.atomic():
            _scores_insert(model_version.pk, new_scores, now)
        _scores_analyze_if_stale()
        scored += len(rows)
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="model.score",
            target=model_version,
            after={"merchants_scored": scored},
        )
    return scored


def merchants_scorable() -> QuerySet[Merchant]:
    """The merchants a model can score: every one whose numbers are finite and in range."""
    return Merchant.objects.filter(validation.merchant_usable())


def _scores_insert(
    model_version_id: int, rows: list[tuple[int, float, int | None, str]], now: Any
) -> None:
    """Insert (merchant, probability, category, explanation JSON) rows, keeping any score
    the model gave a merchant already: on PostgreSQL by COPY into a temporary table and one
    INSERT ... ON CONFLICT DO NOTHING, elsewhere by bulk_create."""
    if connection.vendor != "postgresql":
        Score.objects.bulk_create(
            [
                Score(
                    merchant_id=merchant,
                    model_version_id=model_version_id,
                    probability=probability,
                    predicted_category_id=category,
                    explanation=json.loads(explanation),
                    created_at=now,
                )
                for merchant, probability, category, explanation in rows
            ],
            batch_size=500,
            ignore_conflicts=True,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS score_incoming (merchant_id bigint,"
            " probability float8, predicted_category_id bigint, explanation jsonb)"
            " ON COMMIT DELETE ROWS"
        )
        # Empty even inside an enclosing transaction (the demo seed, a test), where the
        # commit that would clear it has not happened: rows left from an earlier call
        # would otherwise be inserted again under this model version.
        cursor.execute("TRUNCATE score_incoming")
        with cursor.copy(
            "COPY score_incoming (merchant_id, probability, predicted_category_id, explanation)"
            " FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO supportability_score (merchant_id, model_version_id, probability,"
            " predicted_category_id, explanation, created_at)"
            " SELECT merchant_id, %s, probability, predicted_category_id, explanation, %s"
            " FROM score_incoming ORDER BY merchant_id"
            " ON CONFLICT (merchant_id, model_version_id) DO NOTHING",
            [model_version_id, now],
        )


def _scores_analyze_if_stale() -> None:
    """PostgreSQL plans the queries that join these scores (the queue's re-prioritisation)
    from table statistics. After a bulk rescoring they would describe a table without the
    new model's rows (autovacuum may be off, or a minute late) and the re-prioritisation's
    join then ran 200x slower (8.5 s instead of 0.04 s for 1,584 items, measured), so the
    writer refreshes them itself by autovacuum's own rule: once a tenth of the table
    changed since the last ANALYZE."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s"
            " JOIN pg_class c ON c.oid = s.relid WHERE s.relid = %s::regclass",
            [Score._meta.db_table],
        )
        row = cursor.fetchone()
        if row is not None and row[0] > 0.1 * max(row[1], 0.0) + 1_000:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Score._meta.db_table)}")


def merchants_create(rows: Iterable[dict[str, Any]]) -> list[Merchant]:
    """Bulk insert new merchants (the demo seed uses this inside its own transaction and
    audit). Each row is held to the stored-value rules first; errors name the row."""
    checked = [validation.merchant_values(row, prefix=f"[{i}].") for i, row in enumerate(rows)]
    return Merchant.objects.bulk_create([Merchant(**row) for row in checked], batch_size=1_000)
