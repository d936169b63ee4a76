"""The queue benchmark's set-up: a fresh database per size, Django, and N queued items
loaded by COPY."""

from __future__ import annotations

import os
import random
import tempfile
import time
from typing import Any
from urllib.parse import urlparse, urlunparse

# Merchants by COPY, in the column order every benchmark writes its rows in.
MERCHANT_COPY = (
    "COPY supportability_merchant (external_id, name, country, mcc, url, description,"
    " website_text, refund_rate, dispute_rate, cnp_share, account_age_days,"
    " monthly_volume, created_at, updated_at) FROM STDIN"
)


def bench_url(base_url: str) -> str:
    parsed = urlparse(base_url)
    name = parsed.path.lstrip("/") or "postgres"
    return urlunparse(parsed._replace(path=f"/{name.removesuffix('_bench')}_bench"))


def recreate_database(url: str) -> None:
    _administer(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}")


def drop_database(url: str) -> None:
    _administer(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def _administer(url: str, *statements: str) -> None:
    """Run statements about URL's database from the server's `postgres` database."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = sql.Identifier(parsed.path.lstrip("/"))
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(name))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportability.settings.production")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    # Production settings want the audit checkpoints' key; a bench's database is new each
    # run, so its checkpoints are too.
    os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "bench-only-checkpoint-key-0123456789")
    os.environ.setdefault("AUDIT_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="bench-checkpoints-"))
    os.environ["DEBUG"] = "0"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def load(n: int, analysts: int) -> dict[str, Any]:
    """N merchants and N queued items by COPY (10 % need two labels), C analysts with
    tokens, and a second model's scores for every merchant (for the re-prioritisation)."""
    from django.core.management import call_command
    from django.db import connection

    from labeling.models import ReviewItem
    from labeling.services import queue_default
    from supportability.models import ModelVersion
    from supportability.roles import Role
    from supportability.services import token_create, user_create

    call_command("migrate", verbosity=0)
    queue = queue_default()
    queue.gold_rate = 0
    queue.save(update_fields=["gold_rate"])
    rng = random.Random(n)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(MERCHANT_COPY) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        f"B{i:08d}",
                        f"Bench merchant {i}",
                        "US",
                        "5999",
                        f"https://m{i}.example",
                        "We sell things online.",
                        "Free shipping. Returns within 30 days.",
                        rng.random() * 0.1,
                        rng.random() * 0.02,
                        rng.random(),
                        rng.randrange(30, 3000),
                        rng.random() * 100_000,
                        "now",
                        "now",
                    )
                )
        cursor.execute("SELECT min(id) FROM supportability_merchant")
        first_id = cursor.fetchone()[0]
        with cursor.copy(
            "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
            " propensity, required_labels, label_count, score_hidden, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        first_id + i,
                        queue.pk,
                        ReviewItem.Reason.FLAGGED,
                        ReviewItem.Status.QUEUED,
                        round(rng.random(), 4),  # 4 decimals: plenty of exact ties
                        1.0,
                        2 if rng.random() < 0.1 else 1,
                        0,
                        False,
                        "now",
                        "now",
                    )
                )
        model = ModelVersion.objects.create(
            name="bench", version="2", status=ModelVersion.Status.EXTERNAL
        )
        with cursor.copy(
            "COPY supportability_score (merchant_id, model_version_id, probability,"
            " explanation, created_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((first_id + i, model.pk, rng.random(), "{}", "now"))
        cursor.execute("ANALYZE")
    load_seconds = time.perf_counter() - started
    tokens = []
    for a in range(analysts):
        user, _ = user_create(username=f"bench{a}", role=Role.ANALYST, password="bench-pw")
        _, secret = token_create(name=f"bench{a}", scopes=["queue:work"], user=user)
        tokens.append(secret)
    return {"load_seconds": load_seconds, "tokens": tokens, "model_id": model.pk}


def copy_labels(
    cursor: Any,
    labels: list[tuple[int, int, int, str]],
    *,
    categories: dict[str, int],
    policy_id: int,
    rng: random.Random,
) -> None:
    """COPY (item, merchant, analyst, "decision/category") labels, each with the labelled
    lease it needs, as if analysts had claimed and labelled them."""
    import uuid

    with cursor.copy(
        "COPY labeling_lease (item_id, holder_id, token, claimed_at, expires_at, ended_at,"
        " outcome) FROM STDIN"
    ) as copy:
        for item, _, user, _ in labels:
            copy.write_row((item, user, uuid.uuid4(), "now", "now", "now", "labelled"))
    cursor.execute("SELECT min(id) FROM labeling_lease")
    first_lease = cursor.fetchone()[0]
    with cursor.copy(
        "COPY labeling_label (item_id, merchant_id, analyst_id, lease_id, decision,"
        " category_id, rationale, seconds_spent, score_hidden, policy_version_id,"
        " idempotency_key, created_at) FROM STDIN"
    ) as copy:
        for j, (item, merchant, user, said) in enumerate(labels):
            decision, slug = said.split("/")
            copy.write_row(
                (item, merchant, user, first_lease + j, decision, categories[slug], "",
                 rng.lognormvariate(3.5, 0.6), False, policy_id, f"b{j}", "now")
            )  # fmt: skip
