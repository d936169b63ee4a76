"""The core domain: merchants, the policy taxonomy, models and scores, the audit trail,
label snapshots (the training data) and API tokens. The operational records (the outbox's
messages, data issues) are in operations.py."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..validation import MAX_WEIGHT, MERCHANT_BOUNDS, between
from .operations import DataIssue as DataIssue
from .operations import OutboxMessage as OutboxMessage


class Decision(models.TextChoices):
    SUPPORTABLE = "supportable", "Supportable"
    RESTRICTED = "restricted", "Restricted"
    PROHIBITED = "prohibited", "Prohibited"
    UNSURE = "unsure", "Unsure"


class Severity(models.TextChoices):
    NONE = "none", "None"
    RESTRICTED = "restricted", "Restricted"
    PROHIBITED = "prohibited", "Prohibited"


class PolicyCategoryManager(models.Manager["PolicyCategory"]):
    def get_by_natural_key(self, slug: str) -> PolicyCategory:
        return self.get(slug=slug)


class PolicyCategory(models.Model):
    """A node of the policy taxonomy; the tree is data, loaded from a fixture (by slug, so
    that loading it again updates rather than duplicates)."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    severity = models.CharField(max_length=16, choices=Severity.choices)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Family nodes ("Prohibited", "Restricted") group categories; labels use leaves.
    assignable = models.BooleanField(default=True)

    objects = PolicyCategoryManager()

    class Meta:
        ordering = ("position", "slug")
        verbose_name_plural = "policy categories"

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class PolicyVersion(models.Model):
    """The policy in force; every label pins the version its analyst applied."""

    version = models.CharField(max_length=32, unique=True)
    effective_from = models.DateTimeField()
    notes = models.TextField(blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ("-effective_from",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_policy"
            ),
        ]

    def __str__(self) -> str:
        return self.version


class Merchant(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2)
    mcc = models.CharField("MCC", max_length=4)
    url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    website_text = models.TextField(blank=True)
    refund_rate = models.FloatField(default=0.0)
    dispute_rate = models.FloatField(default=0.0)
    cnp_share = models.FloatField("card-not-present share", default=0.0)
    account_age_days = models.PositiveIntegerField(default=0)
    monthly_volume = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        # Finite and in range (supportability.validation.MERCHANT_BOUNDS): NaN and the
        # infinities fall outside every bounded range, on PostgreSQL and SQLite alike.
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(refund_rate__gte=0, refund_rate__lte=1), name="refund_rate_0_1"
            ),
            models.CheckConstraint(
                condition=Q(dispute_rate__gte=0, dispute_rate__lte=1), name="dispute_rate_0_1"
            ),
            models.CheckConstraint(
                condition=Q(cnp_share__gte=0, cnp_share__lte=1), name="cnp_share_0_1"
            ),
            models.CheckConstraint(
                condition=between("monthly_volume", *MERCHANT_BOUNDS["monthly_volume"]),
                name="monthly_volume_finite",
            ),
            models.CheckConstraint(
                condition=between("account_age_days", *MERCHANT_BOUNDS["account_age_days"]),
                name="account_age_days_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class GroundTruth(models.Model):
    """The hidden answer for a synthetic merchant. Never shown to analysts; read only by
    the demo's seed model, simulations and tests."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    category_slug = models.SlugField(max_length=64)

    def __str__(self) -> str:
        return f"truth for {self.merchant_id}: {self.decision}/{self.category_slug}"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        CHAMPION = "champion", "Champion"
        RETIRED = "retired", "Retired"
        REJECTED = "rejected", "Rejected by a lead"
        EXTERNAL = "external", "External detector"

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    artifact = models.BinaryField(null=True, blank=True, editable=False)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(
        "LabelSnapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="models"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["name", "version"], name="model_name_version_unique"),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="champion"), name="one_champion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class Score(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="scores")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="scores")
    probability = models.FloatField()
    predicted_category = models.ForeignKey(
        PolicyCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["merchant", "model_version"], name="one_score_per_model_version"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1), name="probability_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.probability:.3f} by {self.model_version_id}"


class ImmutableQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError(f"{self.model.__name__} rows are immutable")


class LabelSnapshot(models.Model):
    """An immutable set of training rows, with the filters and policy version that made it,
    who asked, and a hash of its content: the same rows always hash the same."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True)
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_sha256 = models.CharField(max_length=64, db_index=True)
    row_count = models.PositiveIntegerField(default=0)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"snapshot {self.pk} ({self.row_count} rows)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("snapshots are immutable")
        super().save(*args, **kwargs)


class LabelSnapshotRow(models.Model):
    snapshot = models.ForeignKey(LabelSnapshot, on_delete=models.CASCADE, related_name="rows")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    # The features a job should read: the merchant as it was when the snapshot was taken.
    features_ref = models.CharField(max_length=64, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    category_slug = models.SlugField(max_length=64)
    source = models.CharField(max_length=32)
    confidence = models.FloatField(default=1.0)
    # The probability with which the merchant was sampled for review: 1/π weights it in
    # unbiased evaluation.
    propensity = models.FloatField(default=1.0)
    weight = models.FloatField(default=1.0)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["snapshot", "merchant"], name="one_row_per_merchant"),
            models.CheckConstraint(
                condition=between("confidence", 0, 1), name="snapshot_row_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=Q(propensity__gt=0, propensity__lte=1),
                name="snapshot_row_propensity_0_1",
            ),
            models.CheckConstraint(
                condition=between("weight", 0, MAX_WEIGHT), name="snapshot_row_weight_finite"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.decision}/{self.category_slug} ({self.source})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("snapshot rows are immutable")
        super().save(*args, **kwargs)


class TrainingRun(models.Model):
    """One retraining, as the lead sees it progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        HELD = "held", "Candidate held for a lead"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.TextField(blank=True)
    snapshot = models.ForeignKey(
        LabelSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The promotion gate's verdict: {"passed": bool, "reasons": [...]}.
    gate = models.JSONField(default=dict, blank=True)
    # Labels left out because their merchant's data cannot be read by a model (stored before
    # the stored-value rules; supportability.data_checks lists them).
    skipped_rows = models.PositiveIntegerField(default=0)
    # True while queued or running: the partial unique index makes it a lock, so the
    # database refuses a second retraining while one is under way.
    holds_lock = models.BooleanField(default=True)
    # The last sign of life of the worker running one of its steps (the outbox heartbeat);
    # a run whose running step has been silent too long is recovered as failed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # 1, then one more for each time a lead retried it after a failure (it resumes at the
    # step it stopped at).
    attempt = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["holds_lock"],
                condition=Q(holds_lock=True),
                name="one_active_training_run",
            ),
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit events are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are never deleted")


class AuditEvent(models.Model):
    """Who did what to which object, when, with the state before and after. Append-only and
    tamper-evident: written unsealed by supportability.audit, then sealed once into a hash
    chain (`seq`, `prev_hash`, `hash`) by the sealer and checked by `manage.py verify_audit`;
    on PostgreSQL triggers refuse TRUNCATE, DELETE and every UPDATE but the sealing."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # Set when the event is built, not by the insert: the hash covers it.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The event's position in the chain, and the chain's hashes (hex sha256): `hash` covers
    # `prev_hash` and the event's content (supportability.audit.event_hash). All three are
    # empty until the sealer links the event, then set once.
    seq = models.BigIntegerField(unique=True, null=True, blank=True)
    # NULL, not "": unsealed is no hash at all (auditevent_sealed_whole checks all three).
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        indexes: ClassVar = [
            models.Index(fields=["object_type", "object_id"]),
            # The sealer's work list: what is not sealed yet, in id order.
            models.Index(fields=["id"], name="auditevent_unsealed", condition=Q(seq__isnull=True)),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                name="auditevent_sealed_whole",
                condition=Q(seq__isnull=True, prev_hash__isnull=True, hash__isnull=True)
                | Q(seq__gte=1, prev_hash__isnull=False, hash__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.verb} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("audit events are never updated")
        # Only the audit writer inserts, unsealed; only the sealer links events into the chain.
        raise TypeError("audit events are appended with supportability.audit.audit_record")

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit events are never deleted")


class ApiToken(models.Model):
    """A bearer token for a service user. Only the SHA-256 of the secret is stored."""

    class Scope(models.TextChoices):
        FLAGS_WRITE = "flags:write", "Push flagged merchants"
        QUEUE_WORK = "queue:work", "Claim and label queue items"
        LABELS_READ = "labels:read", "Read labels and snapshots"

    name = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=12, db_index=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # When the token was last presented (used, or refused once revoked), kept to the start
    # of a 15-minute window: it is what audits a token's use at most once per window.
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


from .audit_checks import AuditVerification as AuditVerification  # noqa: E402
from .similarity import SimilarityIndex as SimilarityIndex  # noqa: E402
