"""The review queue: items, leases (claims) and labels."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from supportability.models import (
    Decision,
    Merchant,
    ModelVersion,
    PolicyCategory,
    PolicyVersion,
    Score,
)
from supportability.validation import MAX_PRIORITY, MAX_SECONDS, between


class BanditReward(models.TextChoices):
    VIOLATIONS = "violations", "Violations confirmed per review"
    MODEL_ERRORS = "model_errors", "Model corrected per label (the model's call was wrong)"


class Queue(models.Model):
    """A stream of review work (per policy family, region...) with its own mix settings.
    Analysts claim from the queues open to them; a lead can pause one."""

    DEFAULT_SLUG = "general"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    paused = models.BooleanField(default=False)
    # Open queues take any analyst; closed ones only their members.
    open_to_all = models.BooleanField(default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="review_queues"
    )
    # A role an analyst needs on top of membership (e.g. "lead" for a sanctions queue).
    required_role = models.CharField(max_length=16, blank=True)
    # Share of new items that need `overlap_k` independent, blind labels.
    overlap_share = models.FloatField(default=0.10)
    overlap_k = models.PositiveSmallIntegerField(default=2)
    # Probability that a claim serves a gold item (a known answer) instead.
    gold_rate = models.FloatField(default=0.05)
    # Active learning. Each round draws about `draw_capacity` new reviews from every merchant
    # the champion scored (0: the queue takes no sampled work), spending its shares of them
    # per strategy (labeling.strategies; empty: the default mix the simulation harness
    # tuned). With the bandit on, Thompson sampling splits the risk + uncertainty capacity
    # by the reward the lead picked; the audit stratum never falls below `audit_floor`.
    draw_capacity = models.PositiveIntegerField(default=0)
    mix = models.JSONField(default=dict, blank=True)
    bandit = models.BooleanField(default=False)
    bandit_reward = models.CharField(
        max_length=16, choices=BanditReward.choices, default=BanditReward.VIOLATIONS
    )
    audit_floor = models.FloatField(default=0.05)
    # Second looks the noise check sends (review.services.label_noise) may take up to this
    # share of a round's capacity at a time, most doubted first; the rest wait their turn.
    rereview_share = models.FloatField(default=0.10)
    # Automation-bias control: the share of new items whose model score and explanation the
    # analyst does not see.
    hide_score_share = models.FloatField(default=0.10)
    # How long an item may wait for its first analyst. Past it the item is in breach: its
    # priority is raised once (labeling.services.sla) and the lead's overview shows it.
    sla_minutes = models.PositiveIntegerField(default=24 * 60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("slug",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(overlap_share__gte=0, overlap_share__lte=1), name="overlap_share_0_1"
            ),
            models.CheckConstraint(condition=Q(overlap_k__gte=2), name="overlap_k_at_least_2"),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0, gold_rate__lte=0.5), name="gold_rate_0_half"
            ),
            models.CheckConstraint(
                condition=Q(audit_floor__gt=0, audit_floor__lte=0.5), name="audit_floor_0_half"
            ),
            models.CheckConstraint(
                condition=Q(hide_score_share__gte=0, hide_score_share__lte=1),
                name="hide_score_share_0_1",
            ),
            models.CheckConstraint(
                condition=Q(rereview_share__gte=0, rereview_share__lte=0.5),
                name="rereview_share_0_half",
            ),
            models.CheckConstraint(
                condition=Q(sla_minutes__gte=5, sla_minutes__lte=30 * 24 * 60),
                name="sla_minutes_5_to_30_days",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GoldAnswer(models.Model):
    """A merchant whose right answer a lead has set. Its review item is served to every
    analyst once, mixed in with the rest, to measure their accuracy."""

    merchant = models.OneToOneField(Merchant, on_delete=models.PROTECT, related_name="gold")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    category = models.ForeignKey(PolicyCategory, on_delete=models.PROTECT, related_name="+")
    rationale = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"gold {self.decision}/{self.category_id} for merchant {self.merchant_id}"


class ReviewItem(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        LEASED = "leased", "Leased"
        ESCALATED = "escalated", "Escalated to a lead"
        SIGNOFF = "signoff", "Awaiting a second lead's sign-off"
        DONE = "done", "Done"

    class Reason(models.TextChoices):
        FLAGGED = "flagged", "Flagged by a model"
        AUDIT_SAMPLE = "audit_sample", "Random audit sample"
        UPSTREAM = "upstream", "Flagged by an upstream detector"
        RISK = "risk", "Risk sample (probability times exposure)"
        UNCERTAINTY = "uncertainty", "Uncertainty sample (the model is unsure)"
        DIVERSITY = "diversity", "Diversity sample (unsure, few lookalikes)"

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="review_items")
    # No plain index on queue or score: the partial indexes below serve the claim, and every
    # extra index is written again for each row a re-prioritisation touches.
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items", db_index=False)
    # Set on gold items: they stay queued for ever, each analyst labelling them once.
    gold = models.OneToOneField(
        GoldAnswer, null=True, blank=True, on_delete=models.PROTECT, related_name="item"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    priority = models.FloatField(default=0.0)
    score = models.ForeignKey(
        Score,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_items",
        db_index=False,
    )
    # The probability with which this merchant was selected for review (0 < π ≤ 1); its
    # inverse weights the item when estimating prevalence, precision and recall.
    propensity = models.FloatField(default=1.0)
    required_labels = models.PositiveSmallIntegerField(default=1)
    label_count = models.PositiveSmallIntegerField(default=0)
    # The active-learning round that drew the merchant (None: flagged upstream, gold...).
    # No index: re-prioritisation reads it row by row, nothing looks items up by it.
    sampling_round = models.ForeignKey(
        "SamplingRound",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="items",
        db_index=False,
    )
    # Automation-bias control: the analyst is not shown the model's score or explanation.
    score_hidden = models.BooleanField(default=False)
    # When the item last entered the queue: created, or sent back for a second look. Its
    # SLA age counts from here, not from when it was first made. (The database default
    # serves bulk loads that write rows themselves, e.g. the benches' COPY.)
    queued_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # When the item passed its queue's SLA still waiting, and its priority was raised for it
    # (once: the mark makes the raise idempotent).
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-priority", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["merchant"],
                condition=Q(status__in=["queued", "leased"]),
                name="one_open_item_per_merchant",
            ),
            models.CheckConstraint(
                condition=Q(propensity__gt=0, propensity__lte=1), name="propensity_0_1"
            ),
            models.CheckConstraint(condition=Q(required_labels__gte=1), name="needs_a_label"),
            models.CheckConstraint(
                condition=between("priority", -MAX_PRIORITY, MAX_PRIORITY),
                name="item_priority_finite",
            ),
        ]
        indexes: ClassVar = [
            # The claim reads the head of this index for each queue open to the analyst:
            # queued, non-gold items by priority. Partial, so done items never bloat it.
            models.Index(
                fields=["queue", "-priority", "id"],
                condition=Q(status="queued", gold__isnull=True),
                name="queued_by_queue_priority",
            ),
            models.Index(
                fields=["queue"], condition=Q(gold__isnull=False), name="gold_items_by_queue"
            ),
            # The leads' queues: escalated items and adjudications awaiting sign-off.
            models.Index(
                fields=["status", "-priority", "id"],
                condition=Q(status__in=["escalated", "signoff"]),
                name="lead_work_items",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.status})"


class Lease(models.Model):
    """One claim of an item by one analyst, until it expires, is labelled or released."""

    class Outcome(models.TextChoices):
        ACTIVE = "active", "Active"
        LABELLED = "labelled", "Labelled"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="leases")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The score shown with the item when it was claimed: what the analyst saw.
    score = models.ForeignKey(
        Score, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.ACTIVE)

    class Meta:
        ordering = ("-claimed_at", "-id")
        constraints: ClassVar = [
            # The database, not only the service, guarantees one holder per item.
            models.UniqueConstraint(
                fields=["item"], condition=Q(outcome="active"), name="one_active_lease_per_item"
            ),
            # One item at a time per analyst: a second tab gets the same item back.
            models.UniqueConstraint(
                fields=["holder"], condition=Q(outcome="active"), name="one_active_lease_per_holder"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["expires_at"], condition=Q(outcome="active"), name="active_by_expiry"
            ),
        ]

    def __str__(self) -> str:
        return f"lease {self.token} on item {self.item_id}"


class Label(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="labels")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="labels")
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labels"
    )
    lease = models.OneToOneField(Lease, on_delete=models.PROTECT, related_name="label")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    category = models.ForeignKey(PolicyCategory, on_delete=models.PROTECT, related_name="+")
    rationale = models.TextField(blank=True)
    seconds_spent = models.FloatField()
    # The model's score on the analyst's lease and the model that produced it: what the
    # analyst was shown, unless the item hid it (score_hidden, the automation-bias control).
    score_seen = models.FloatField(null=True, blank=True)
    score_hidden = models.BooleanField(default=False)
    model_version_seen = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=64)
    # On gold items: whether decision and category matched the known answer.
    gold_correct = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["analyst", "idempotency_key"], name="label_idempotency"
            ),
            models.UniqueConstraint(fields=["item", "analyst"], name="one_label_per_analyst"),
            models.CheckConstraint(
                condition=between("seconds_spent", 0, MAX_SECONDS), name="label_seconds_finite"
            ),
            models.CheckConstraint(
                condition=between("score_seen", 0, 1, nullable=True), name="label_score_seen_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision}/{self.category_id} on item {self.item_id}"


class SamplingRound(models.Model):
    """One active-learning draw for a queue: Poisson sampling over every merchant the model
    scored, each strategy spending its share of the capacity. What it needs to be estimated
    from later is kept: the population, the threshold and the shares used."""

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="rounds")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    shares = models.JSONField()  # used for this round (the bandit's, or the lead's)
    lead_shares = models.JSONField()  # as the lead set them
    bandit = models.BooleanField(default=False)
    bandit_evidence = models.JSONField(default=dict, blank=True)  # successes/failures per arm
    capacity = models.PositiveIntegerField()
    expected_reviews = models.FloatField()  # sum of pi over merchants that cost a review
    population = models.PositiveIntegerField()
    population_flagged = models.PositiveIntegerField()
    threshold = models.FloatField()  # the flagging threshold precision and recall refer to
    # The model's scores summed over the population and over its flagged merchants, at the
    # draw: with each draw's score, they make the estimates model-assisted (the weights then
    # only carry the model's errors). Null on rounds drawn before they were kept.
    score_sum = models.FloatField(null=True, blank=True)
    flagged_score_sum = models.FloatField(null=True, blank=True)
    drawn = models.PositiveIntegerField()
    new_items = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=between("expected_reviews", 0, MAX_PRIORITY),
                name="round_expected_reviews_finite",
            ),
            models.CheckConstraint(
                condition=between("threshold", 0, 1), name="round_threshold_0_1"
            ),
            models.CheckConstraint(
                condition=between("score_sum", 0, MAX_PRIORITY, nullable=True),
                name="round_score_sum_finite",
            ),
            models.CheckConstraint(
                condition=between("flagged_score_sum", 0, MAX_PRIORITY, nullable=True),
                name="round_flagged_score_sum_finite",
            ),
        ]

    def __str__(self) -> str:
        return f"round {self.pk} of {self.queue_id}: {self.drawn} drawn"


class Draw(models.Model):
    """A merchant a round selected, with the probability it had and the strategies whose
    own draw chose it. A merchant already reviewed or queued costs no new review: its item
    is linked, its label reused."""

    sampling_round = models.ForeignKey(
        SamplingRound, on_delete=models.PROTECT, related_name="draws"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(
        ReviewItem, null=True, blank=True, on_delete=models.PROTECT, related_name="draws"
    )
    score = models.ForeignKey(Score, on_delete=models.PROTECT, related_name="+")
    probability = models.FloatField()  # the score at the draw
    propensity = models.FloatField()
    strategies = models.CharField(max_length=64)  # comma-separated, in STRATEGIES order
    flagged = models.BooleanField()
    reused = models.BooleanField(default=False)

    class Meta:
        ordering = ("sampling_round_id", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["sampling_round", "merchant"], name="one_draw_per_round_merchant"
            ),
            models.CheckConstraint(
                condition=Q(propensity__gt=0, propensity__lte=1), name="draw_propensity_0_1"
            ),
            models.CheckConstraint(
                condition=between("probability", 0, 1), name="draw_probability_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"draw of merchant {self.merchant_id} in round {self.sampling_round_id}"


class ReviewerSettings(models.Model):
    """One reviewer's own settings for the review screens: whether single-key shortcuts are
    on (WCAG 2.1.4: a user can turn them off) and which key does what. `keymap` maps an
    action to a key; actions left out keep their default (labeling.services.reviewer)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer_settings"
    )
    shortcuts_enabled = models.BooleanField(default=True)
    keymap = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"settings of user {self.user_id}"
