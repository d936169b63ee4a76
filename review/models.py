"""What leads decide: adjudications of escalated items, QA audits of single labels, the
settings that govern both, and the periodic agreement and quality statistics."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from labeling.models import Label, Lease, ReviewItem
from supportability.models import Decision, Merchant, PolicyCategory, PolicyVersion
from supportability.validation import MAX_PRIORITY, MAX_SECONDS, between

# Agreement coefficients are at most 1; alpha can fall below -1 on a few items.
STAT_FLOOR = 1e6

FINAL_DECISIONS = [c for c in Decision.choices if c[0] != Decision.UNSURE]


class ReviewSettings(models.Model):
    """The lead-tunable rules of adjudication and QA; one row (pk=1)."""

    # Share of single-labelled items drawn for audit for an analyst of average reliability;
    # each analyst's own rate moves with their record, between the floor and the cap.
    audit_rate = models.FloatField(default=0.10)
    audit_floor = models.FloatField(default=0.02)
    audit_cap = models.FloatField(default=0.50)
    # Adjudications in these categories need a second lead's sign-off (four eyes).
    four_eyes = models.ManyToManyField(PolicyCategory, blank=True, related_name="+")
    # Retrain on its own (beat) once this many labels arrived since the last snapshot, if
    # the analysts' latest overall agreement (Gwet's AC1) is at least this high.
    retrain_min_new_labels = models.PositiveIntegerField(default=200)
    retrain_min_agreement = models.FloatField(default=0.6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "review settings"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(audit_floor__gt=0)
                & Q(audit_floor__lte=F("audit_rate"))
                & Q(audit_rate__lte=F("audit_cap"))
                & Q(audit_cap__lte=1),
                name="audit_floor_rate_cap_ordered",
            ),
            models.CheckConstraint(
                condition=between("retrain_min_agreement", -1, 1),
                name="retrain_min_agreement_range",
            ),
        ]

    def __str__(self) -> str:
        return f"audit {self.audit_rate:.0%} ({self.audit_floor:.0%}-{self.audit_cap:.0%})"


class Adjudication(models.Model):
    """A lead's final decision on an escalated item. Never deleted: a reopened adjudication
    stays, marked superseded, and the new one points at it."""

    class Status(models.TextChoices):
        AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting a second lead's sign-off"
        FINAL = "final", "Final"
        REJECTED = "rejected", "Sign-off refused"
        SUPERSEDED = "superseded", "Superseded (reopened)"

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="adjudications")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="adjudications")
    lease = models.OneToOneField(
        Lease, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=FINAL_DECISIONS)
    category = models.ForeignKey(PolicyCategory, on_delete=models.PROTECT, related_name="+")
    rationale = models.TextField()
    # The analyst label the lead upheld, if they picked one rather than writing their own.
    upheld_label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The business disposition stands either way; this says whether it may train a model.
    for_training = models.BooleanField(default=True)
    training_note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    requires_signoff = models.BooleanField(default=False)
    signoff_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signoff_at = models.DateTimeField(null=True, blank=True)
    signoff_note = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.TextField(blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-id",)
        constraints: ClassVar = [
            # At most one live adjudication per item: the one awaiting sign-off or final.
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(status__in=["awaiting_signoff", "final"]),
                name="one_live_adjudication_per_item",
            ),
            models.CheckConstraint(condition=~Q(decision="unsure"), name="adjudication_decides"),
            models.CheckConstraint(
                condition=Q(for_training=True) | ~Q(training_note=""),
                name="training_exclusion_has_reason",
            ),
            # Maker-checker, held by the database too.
            models.CheckConstraint(
                condition=Q(signoff_by__isnull=True) | ~Q(signoff_by=F("lead")),
                name="signoff_by_another_lead",
            ),
        ]

    def __str__(self) -> str:
        return f"adjudication {self.pk}: {self.decision}/{self.category_id} ({self.status})"


class QaAudit(models.Model):
    """One draw of a single-labelled item for lead audit: every such label is drawn once,
    at its analyst's audit rate at the time, and the rate is kept so that error rates can
    be estimated without bias from the audited sample."""

    class Status(models.TextChoices):
        NOT_DRAWN = "not_drawn", "Not drawn"
        PENDING = "pending", "Awaiting a lead"
        AGREED = "agreed", "Agreed"
        OVERTURNED = "overturned", "Overturned"

    label = models.OneToOneField(Label, on_delete=models.PROTECT, related_name="qa_audit")
    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="qa_audits")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="qa_audits")
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qa_audits"
    )
    rate = models.FloatField()
    status = models.CharField(max_length=12, choices=Status.choices)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lease = models.OneToOneField(
        Lease, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The lead's answer when they overturn; empty when they agree.
    decision = models.CharField(max_length=16, choices=FINAL_DECISIONS, blank=True)
    category = models.ForeignKey(
        PolicyCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rationale = models.TextField(blank=True)
    drawn_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(rate__gt=0, rate__lte=1), name="audit_rate_0_1"),
            models.CheckConstraint(
                condition=~Q(status="overturned") | Q(category__isnull=False),
                name="overturn_has_answer",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["drawn_at"], condition=Q(status="pending"), name="qa_pending"),
        ]

    def __str__(self) -> str:
        return f"QA audit of label {self.label_id} ({self.status})"


class QualityRun(models.Model):
    """One computation of the agreement and analyst-quality statistics."""

    computed_at = models.DateTimeField(default=timezone.now)
    since = models.DateTimeField()
    label_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"quality run {self.pk} at {self.computed_at:%Y-%m-%d %H:%M}"


class AgreementStat(models.Model):
    """Agreement between independent labels on the same items: overall, for one pair of
    analysts, or for one policy category (the binary 'is it this category?')."""

    class Scope(models.TextChoices):
        OVERALL = "overall", "All analysts"
        PAIR = "pair", "Analyst pair"
        CATEGORY = "category", "Policy category"

    run = models.ForeignKey(QualityRun, on_delete=models.CASCADE, related_name="agreement")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    analyst_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    analyst_b = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        PolicyCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    items = models.PositiveIntegerField()
    observed = models.FloatField(null=True)
    kappa = models.FloatField(null=True)
    alpha = models.FloatField(null=True)
    ac1 = models.FloatField(null=True)

    class Meta:
        ordering = ("run", "scope", "id")
        # None where undefined, never NaN (review.agreement).
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=between(field, -STAT_FLOOR, 1, nullable=True),
                name=f"agreement_{field}_finite",
            )
            for field in ("observed", "kappa", "alpha", "ac1")
        ]

    def __str__(self) -> str:
        return f"{self.scope} agreement over {self.items} items"


class AnalystQuality(models.Model):
    run = models.ForeignKey(QualityRun, on_delete=models.CASCADE, related_name="analysts")
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    labels = models.PositiveIntegerField()
    gold_answered = models.PositiveIntegerField()
    gold_accuracy = models.FloatField(null=True)
    audited = models.PositiveIntegerField()
    overturned = models.PositiveIntegerField()
    overturn_rate = models.FloatField(null=True)
    # Labels per hour in which the analyst labelled anything.
    throughput = models.FloatField(null=True)
    median_seconds = models.FloatField(null=True)
    audit_rate = models.FloatField()

    class Meta:
        ordering = ("run", "analyst__username")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=between("gold_accuracy", 0, 1, nullable=True),
                name="quality_gold_accuracy_0_1",
            ),
            models.CheckConstraint(
                condition=between("overturn_rate", 0, 1, nullable=True),
                name="quality_overturn_rate_0_1",
            ),
            models.CheckConstraint(
                condition=between("throughput", 0, MAX_PRIORITY, nullable=True),
                name="quality_throughput_finite",
            ),
            models.CheckConstraint(
                condition=between("median_seconds", 0, MAX_SECONDS, nullable=True),
                name="quality_median_seconds_finite",
            ),
            models.CheckConstraint(
                condition=between("audit_rate", 0, 1), name="quality_audit_rate_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"quality of {self.analyst_id} in run {self.run_id}"


class CleanLabel(models.Model):
    """The current best answer for a merchant, from every label and lead decision so far,
    with where it comes from, how sure it is, and whether it may train a model. Recomputed
    in bulk (services/clean_labels.py); snapshots freeze it."""

    class Source(models.TextChoices):
        GOLD = "gold", "Gold answer"
        ADJUDICATION = "adjudication", "Lead adjudication"
        AUDIT = "audit", "Lead audit"
        AGREEMENT = "agreement", "Independent labels agree"
        ESTIMATE = "estimate", "Reliability-weighted estimate (Dawid-Skene)"

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="clean_label")
    decision = models.CharField(max_length=16, choices=FINAL_DECISIONS)
    category = models.ForeignKey(PolicyCategory, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    confidence = models.FloatField()
    label_ids = models.JSONField(default=list)
    for_training = models.BooleanField(default=True)
    # The smallest inclusion probability among the merchant's review items: the merchant
    # was reviewed at least with this chance.
    propensity = models.FloatField(default=1.0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("merchant_id",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1), name="clean_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=Q(propensity__gt=0, propensity__lte=1), name="clean_propensity_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.decision}/{self.category_id} ({self.source})"


class ReReview(models.Model):
    """A label the model confidently contradicts (out of fold), sent back to the queue for a
    fresh analyst. Its outcome measures the noise check's precision."""

    class Reason(models.TextChoices):
        MODEL_DOUBT = "model_doubt", "The model confidently contradicts it (out of fold)"
        UNCERTAIN = "uncertain", "Settled by an uncertain estimate alone"
        TEXT_CHANGED = "text_changed", "The merchant's description or website changed"
        CROSSED = "crossed", "The model's opinion crossed the policy threshold"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for a fresh analyst"
        CONFIRMED = "confirmed", "The label stood"
        CORRECTED = "corrected", "The label was wrong"

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="re_reviews")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="re_reviews")
    # The clean label the check doubted, and how strongly the model disagreed.
    decision = models.CharField(max_length=16, choices=FINAL_DECISIONS)
    category_slug = models.SlugField(max_length=64)
    # The model's P(violating) for a doubt; the estimate's confidence for an uncertain one.
    model_probability = models.FloatField()
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.MODEL_DOUBT)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["merchant"], condition=Q(outcome="pending"), name="one_pending_re_review"
            ),
            models.CheckConstraint(
                condition=between("model_probability", 0, 1), name="re_review_probability_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"re-review of {self.merchant_id} ({self.outcome})"
