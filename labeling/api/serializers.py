from __future__ import annotations

from typing import Any

from rest_framework import serializers

from labeling.models import Label, Lease, Queue, ReviewItem
from labeling.services.intake import MERCHANT_FIELDS
from supportability import validation
from supportability.api import fields
from supportability.models import Decision, Merchant, PolicyCategory, Score

MAX_FLAGS_PER_REQUEST = 1_000


class MerchantInSerializer(serializers.Serializer):
    external_id = fields.PatternField(
        validation.EXTERNAL_ID_RE,
        max_length=validation.MERCHANT_TEXT_LIMITS["external_id"],
        help_text="your id for the merchant: printable text, no control characters",
    )
    name = fields.TextField(max_length=validation.MERCHANT_TEXT_LIMITS["name"])
    country = fields.PatternField(
        validation.COUNTRY_RE, help_text="ISO 3166-1 alpha-2, upper case (ASCII)"
    )
    mcc = fields.PatternField(
        validation.MCC_RE, help_text="merchant category code: four ASCII digits, as a string"
    )
    url = fields.WebAddressField(
        max_length=validation.MERCHANT_TEXT_LIMITS["url"],
        required=False,
        allow_blank=True,
        default="",
    )
    description = fields.TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=validation.MERCHANT_TEXT_LIMITS["description"],
    )
    website_text = fields.TextField(
        required=False,
        allow_blank=True,
        default="",
        max_length=validation.MERCHANT_TEXT_LIMITS["website_text"],
    )
    refund_rate = fields.FiniteFloatField(min_value=0, max_value=1, default=0.0)
    dispute_rate = fields.FiniteFloatField(min_value=0, max_value=1, default=0.0)
    cnp_share = fields.FiniteFloatField(min_value=0, max_value=1, default=0.0)
    account_age_days = fields.WholeNumberField(
        min_value=0, max_value=validation.MAX_ACCOUNT_AGE_DAYS, default=0
    )
    monthly_volume = fields.FiniteFloatField(
        min_value=0, max_value=validation.MAX_VOLUME, default=0.0
    )


class ModelRefSerializer(serializers.Serializer):
    name = fields.TextField(max_length=100)
    version = fields.TextField(max_length=64)


class FlagSerializer(serializers.Serializer):
    merchant = MerchantInSerializer()
    model = ModelRefSerializer()
    score = fields.FiniteFloatField(min_value=0, max_value=1)
    category = fields.SlugReferenceField(
        slug_field="slug",
        queryset=PolicyCategory.objects.filter(assignable=True),
        required=False,
        allow_null=True,
    )
    explanation = fields.ExplanationField(required=False, default=dict)


class FlagBatchSerializer(serializers.ListSerializer):
    child = FlagSerializer()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("child", FlagSerializer())
        kwargs.setdefault("allow_empty", False)
        kwargs.setdefault("max_length", MAX_FLAGS_PER_REQUEST)
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        """One row per (merchant, model, version), and one description per merchant: a
        batch that disagrees with itself is refused rather than half-applied. (Checked here
        rather than in validate() so that the errors stay a list, one entry per row.)"""
        attrs: list[dict[str, Any]] = super().to_internal_value(data)
        errors: list[dict[str, Any]] = [{} for _ in attrs]
        seen_keys: dict[tuple[str, str, str], int] = {}
        merchants: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, row in enumerate(attrs):
            external_id = row["merchant"]["external_id"]
            key = (external_id, row["model"]["name"], row["model"]["version"])
            if key in seen_keys:
                errors[index]["merchant"] = {
                    "external_id": [f"Repeats row {seen_keys[key]} for the same model version."]
                }
            seen_keys.setdefault(key, index)
            first = merchants.setdefault(external_id, (index, row["merchant"]))
            if first[1] != row["merchant"] and "merchant" not in errors[index]:
                errors[index]["merchant"] = {
                    "external_id": [f"Describes this merchant differently from row {first[0]}."]
                }
        if any(errors):
            raise serializers.ValidationError(errors)
        return attrs


class IntakeResultSerializer(serializers.Serializer):
    merchants_created = serializers.IntegerField()
    merchants_updated = serializers.IntegerField()
    scores_created = serializers.IntegerField()
    scores_unchanged = serializers.IntegerField()
    items_enqueued = serializers.IntegerField()


UNAVAILABLE = (
    "null when the stored value is not a finite number (a row stored before intake checked it)"
)


class MerchantOutSerializer(serializers.ModelSerializer):
    refund_rate = fields.StoredNumberField(help_text=UNAVAILABLE)
    dispute_rate = fields.StoredNumberField(help_text=UNAVAILABLE)
    cnp_share = fields.StoredNumberField(help_text=UNAVAILABLE)
    account_age_days = serializers.IntegerField(allow_null=True, help_text=UNAVAILABLE)
    monthly_volume = fields.StoredNumberField(help_text=UNAVAILABLE)

    class Meta:
        model = Merchant
        fields = ("id", "external_id", *MERCHANT_FIELDS)


class ScoreOutSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.__str__")
    probability = fields.StoredNumberField(help_text=UNAVAILABLE)
    explanation = fields.ExplanationField(
        allow_null=True, help_text="null when the stored explanation is malformed"
    )
    predicted_category: serializers.SlugRelatedField[PolicyCategory] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Score
        fields = ("probability", "predicted_category", "explanation", "model")


class ItemOutSerializer(serializers.ModelSerializer):
    """What an analyst sees of an item: never earlier labels (blind), never whether it is
    gold."""

    merchant = MerchantOutSerializer()
    priority = fields.StoredNumberField(help_text=UNAVAILABLE)
    queue: serializers.SlugRelatedField[Queue] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = ReviewItem
        fields = ("id", "queue", "priority", "merchant", "score_hidden")


class LeaseOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lease
        fields = ("token", "claimed_at", "expires_at")


class ClaimOutSerializer(serializers.Serializer):
    item = ItemOutSerializer()
    score = ScoreOutSerializer(allow_null=True, source="lease.score")
    lease = LeaseOutSerializer()


class ClaimInSerializer(serializers.Serializer):
    queue = fields.SlugTextField(
        required=False, max_length=64, help_text="claim from this queue only"
    )


class LeaseInSerializer(serializers.Serializer):
    lease = fields.TokenField(help_text="the token of your live lease on the item")


class LabelInSerializer(serializers.Serializer):
    lease = fields.TokenField(help_text="the token of your live lease on the item")
    decision = fields.ChoiceTextField(choices=Decision.choices)
    category = fields.SlugTextField(required=False, allow_blank=True, default="", max_length=64)
    rationale = fields.TextField(required=False, allow_blank=True, default="", max_length=5_000)
    idempotency_key = fields.TextField(max_length=64)


class LabelOutSerializer(serializers.ModelSerializer):
    category: serializers.SlugRelatedField[PolicyCategory] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    analyst = serializers.CharField(source="analyst.get_username", read_only=True)
    merchant = serializers.CharField(source="merchant.external_id", read_only=True)
    policy_version = serializers.CharField(source="policy_version.version", read_only=True)

    class Meta:
        model = Label
        fields = (
            "id",
            "item",
            "merchant",
            "analyst",
            "decision",
            "category",
            "rationale",
            "seconds_spent",
            "score_seen",
            "score_hidden",
            "policy_version",
            "idempotency_key",
            "created_at",
        )


# The claim and the label are the API's hot path: their responses are built as plain dicts
# (the serializers above describe them in the schema). DRF builds its fields per instance,
# which was the largest cost left in a profiled claim+label cycle.
_datetime = serializers.DateTimeField()


def _merchant(merchant: Merchant) -> dict[str, Any]:
    values = {field: getattr(merchant, field) for field in MERCHANT_FIELDS}
    # A number stored before the stored-value rules may not be finite: null, not a 500.
    for field in validation.MERCHANT_BOUNDS:
        values[field] = validation.finite_or_none(values[field])
    return {"id": merchant.pk, "external_id": merchant.external_id} | values


def claim_payload(lease: Lease) -> dict[str, Any]:
    item = lease.item
    # Items that hide the model's view (the automation-bias control) hide it here too.
    score = None if item.score_hidden else lease.score
    return {
        "item": {
            "id": item.pk,
            "queue": item.queue.slug,
            "priority": validation.finite_or_none(item.priority),
            "merchant": _merchant(item.merchant),
            "score_hidden": item.score_hidden,
        },
        "score": None
        if score is None
        else {
            "probability": validation.finite_or_none(score.probability),
            "predicted_category": score.predicted_category.slug
            if score.predicted_category
            else None,
            # Shown as stored only when it follows the schema (rows from before the check).
            "explanation": score.explanation
            if validation.explanation_read(score.explanation) is not None
            else None,
            "model": str(score.model_version),
        },
        "lease": {
            "token": str(lease.token),
            "claimed_at": _datetime.to_representation(lease.claimed_at),
            "expires_at": _datetime.to_representation(lease.expires_at),
        },
    }


def label_payload(label: Label) -> dict[str, Any]:
    return {
        "id": label.pk,
        "item": label.item_id,
        "merchant": label.merchant.external_id,
        "analyst": label.analyst.get_username(),
        "decision": label.decision,
        "category": label.category.slug,
        "rationale": label.rationale,
        "seconds_spent": label.seconds_spent,
        # Not the score the analyst was not shown.
        "score_seen": None if label.score_hidden else label.score_seen,
        "score_hidden": label.score_hidden,
        "policy_version": label.policy_version.version,
        "idempotency_key": label.idempotency_key,
        "created_at": _datetime.to_representation(label.created_at),
    }
