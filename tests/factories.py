"""factory_boy factories: every test builds the few rows it needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from labeling.models import Lease, Queue, ReviewItem
from labeling.services import queue_default
from supportability.models import Merchant, ModelVersion, PolicyCategory, Score


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")

    @classmethod
    def _create(  # role= puts the user in a group ("admin" makes a superuser)
        cls, model_class: Any, *args: Any, **kwargs: Any
    ) -> Any:
        role = kwargs.pop("role", "analyst")
        user = super()._create(model_class, *args, **kwargs)
        if role == "admin":
            user.is_superuser = True
            user.is_staff = True
            user.save(update_fields=["is_superuser", "is_staff"])
        elif role:
            group, _ = Group.objects.get_or_create(name=role)
            user.groups.add(group)
        return user


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    external_id = factory.Sequence(lambda n: f"T{n:06d}")
    name = factory.Sequence(lambda n: f"Test Merchant {n}")
    country = "US"
    mcc = "5999"
    url = factory.LazyAttribute(lambda m: f"https://{m.external_id.lower()}.example")
    description = "We sell everyday things."
    website_text = "Free shipping on orders over $50."
    refund_rate = 0.02
    dispute_rate = 0.002
    cnp_share = 0.5
    account_age_days = 400
    monthly_volume = 25_000.0


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = "detector"
    version = factory.Sequence(lambda n: f"v{n}")
    status = ModelVersion.Status.EXTERNAL


class ScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Score

    merchant = factory.SubFactory(MerchantFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    probability = 0.8
    predicted_category = factory.LazyFunction(
        lambda: PolicyCategory.objects.get(slug="pseudo-pharmaceuticals")
    )
    explanation = factory.LazyFunction(
        lambda: {"terms": [["peptides", 1.2]], "features": [["dispute_rate", 0.01, 0.4]]}
    )


class ReviewItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewItem

    merchant = factory.SubFactory(MerchantFactory)
    queue = factory.LazyFunction(queue_default)
    score = factory.SubFactory(ScoreFactory, merchant=factory.SelfAttribute("..merchant"))
    reason = ReviewItem.Reason.FLAGGED
    priority = factory.SelfAttribute("score.probability")
    propensity = 1.0


class LeaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lease

    item = factory.SubFactory(ReviewItemFactory, status=ReviewItem.Status.LEASED)
    holder = factory.SubFactory(UserFactory)
    claimed_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda lease: lease.claimed_at + timedelta(minutes=10))


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"queue-{n}")
    name = factory.LazyAttribute(lambda q: q.slug.title())
    gold_rate = 0.0
    overlap_share = 0.0


def label_through_services(
    analyst: Any, item: ReviewItem, decision: str, category: str, rationale: str = "seen it"
) -> Any:
    """Claim `item` as `analyst` and label it, through the queue's services (the only way
    labels are made), so that statuses, leases and audit events are the real ones."""
    from labeling import services

    services.chance.seed(0)
    lease = services.item_claim(user=analyst)
    assert lease is not None and lease.item_id == item.pk, "the item is not next in the queue"
    label, _ = services.label_submit(
        user=analyst,
        item_id=item.pk,
        lease_token=lease.token,
        data=services.LabelInput(decision, category, rationale, f"k-{analyst.pk}-{item.pk}"),
    )
    return label


def escalated_item(analysts: list[Any], answers: list[tuple[str, str]], **item: Any) -> ReviewItem:
    """An item that `analysts` labelled independently with `answers`: a disagreement (or
    an unsure) sends it to the leads."""
    review_item: ReviewItem = ReviewItemFactory.create(required_labels=len(answers), **item)
    for analyst, (decision, category) in zip(analysts, answers, strict=True):
        label_through_services(analyst, review_item, decision, category)
    review_item.refresh_from_db()
    return review_item


def scored_population(n: int, *, seed: int = 0, prevalence_scale: float = 1.0) -> ModelVersion:
    """`n` merchants scored by a champion model, with scores from a skewed distribution
    (most merchants look safe, a few do not) and varied monthly volumes. Bulk-created: the
    sampling tests need a few hundred. Returns the champion."""
    import numpy as np

    rng = np.random.default_rng(seed)
    champion: ModelVersion = ModelVersionFactory.create(
        name="own", status=ModelVersion.Status.CHAMPION
    )
    merchants = Merchant.objects.bulk_create(
        [
            MerchantFactory.build(
                external_id=f"pop-{seed}-{i}",
                name=f"Shop {i % (n // 2 or 1)}",  # pairs of near-duplicates
                url=f"https://shop{i % (n // 2 or 1)}.example.com",
                monthly_volume=float(rng.lognormal(9, 1.5)),
            )
            for i in range(n)
        ]
    )
    probability = np.clip(rng.beta(0.6, 3.0, size=n) * prevalence_scale, 0.001, 0.999)
    Score.objects.bulk_create(
        [
            Score(merchant=m, model_version=champion, probability=float(p), explanation={})
            for m, p in zip(merchants, probability, strict=True)
        ]
    )
    return champion


def clean_label(merchant: Merchant | None = None, **fields: Any) -> Any:
    """A merchant's clean label, written directly (the API tests read them)."""
    from review.models import CleanLabel

    values = {
        "decision": "prohibited",
        "category": "pseudo-pharmaceuticals",
        "source": CleanLabel.Source.AGREEMENT,
        "confidence": 0.9,
        "label_ids": [1, 2],
        "for_training": True,
        "propensity": 0.25,
    } | fields
    values["category"] = PolicyCategory.objects.get(slug=values["category"])
    return CleanLabel.objects.create(merchant=merchant or MerchantFactory.create(), **values)


def poison(instance: Any, field: str, value: Any) -> None:
    """Store a value the CHECK constraints now refuse, as a row written before they existed
    would hold it: on PostgreSQL the constraints go back to NOT VALID (as the migration
    leaves them when stored rows break them), on SQLite CHECKs are off for the write. The
    test's transaction rolls all of it back."""
    from django.db import connection

    model = type(instance)
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    update = f"UPDATE {table} SET {column} = %s WHERE id = %s"  # noqa: S608 (names quoted)
    checks = [c for c in model._meta.constraints if field in str(getattr(c, "condition", ""))]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rows this test inserted still have deferred foreign-key checks pending, and
            # PostgreSQL alters no table with pending trigger events: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with connection.schema_editor() as editor:
                for constraint in checks:
                    editor.remove_constraint(model, constraint)
            cursor.execute(update, ["NaN" if value != value else value, instance.pk])
            for constraint in checks:
                cursor.execute(f"{constraint.create_sql(model, editor)} NOT VALID")
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            cursor.execute(update, [value, instance.pk])
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def clean_labels_from_truth(world_truth, *, flip_violators: float = 0.0, seed: int = 0):
    """Clean labels for every merchant from the hidden truth, as if analysts and leads had
    settled them all; optionally scrambled outside the held-out fifth (violators called
    supportable, some clean merchants called violators): a candidate learns from that, the
    evaluation still sees the truth."""
    import random

    from review.models import CleanLabel
    from review.services.retrain_data import is_holdout
    from supportability.models import PolicyCategory

    rng = random.Random(seed)
    categories = dict(PolicyCategory.objects.values_list("slug", "id"))
    rows = []
    for truth in world_truth:
        decision, slug = truth.decision, truth.category_slug
        flip = not is_holdout(truth.merchant.external_id) and rng.random() < flip_violators
        if flip and decision != "supportable":
            decision, slug = "supportable", "none"
        elif flip and rng.random() < 0.15:  # and some clean merchants called violators
            decision, slug = "prohibited", "drugs"
        rows.append(
            CleanLabel(
                merchant_id=truth.merchant_id,
                decision=decision,
                category_id=categories[slug],
                source=CleanLabel.Source.AGREEMENT,
                confidence=1.0,
                # A census: every merchant reviewed (the weighting itself is tested in
                # tests/ml/test_evaluation.py; here equal weights keep the small world steady).
                propensity=1.0,
            )
        )
    CleanLabel.objects.bulk_create(rows)
