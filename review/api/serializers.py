from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from review.api.export import FORMATS
from review.models import CleanLabel
from supportability.api import fields
from supportability.models import LabelSnapshot

NOTE_MAX_LENGTH = 200


class SnapshotOutSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, read_only=True
    )
    policy_version = serializers.CharField(
        source="policy_version.version", allow_null=True, read_only=True
    )
    rows = serializers.SerializerMethodField(help_text="download every row (JSONL or CSV)")

    class Meta:
        model = LabelSnapshot
        fields = (
            "id",
            "created_at",
            "created_by",
            "filters",
            "policy_version",
            "content_sha256",
            "row_count",
            "rows",
        )

    def get_rows(self, snapshot: LabelSnapshot) -> str:
        url = reverse("api-snapshot-rows", args=[snapshot.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class SnapshotInSerializer(serializers.Serializer):
    refresh = fields.FlagField(
        required=False, default=False, help_text="recompute the clean labels first"
    )
    note = fields.TextField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )


class RowsQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS, required=False, default="jsonl")


class CleanLabelQuerySerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class, so this does not shadow
    # Field.source at run time; mypy sees only the class body.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=CleanLabel.Source.choices, required=False
    )
    for_training = serializers.ChoiceField(choices=("true", "false"), required=False)

    def validate_for_training(self, value: str) -> bool:
        return value == "true"


class CleanLabelOutSerializer(serializers.Serializer):
    """Over `values()` dicts (see `CLEAN_LABEL_COLUMNS`): no model instance per row."""

    merchant_id = serializers.IntegerField()
    merchant_external_id = serializers.CharField(source="merchant__external_id")
    decision = serializers.CharField(help_text="supportable, restricted or prohibited")
    category = serializers.SlugField(source="category__slug")
    source = serializers.ChoiceField(choices=CleanLabel.Source.choices)  # type: ignore[assignment]
    confidence = fields.StoredNumberField()
    for_training = serializers.BooleanField()
    propensity = fields.StoredNumberField()
    label_ids = serializers.ListField(child=serializers.IntegerField())
    computed_at = serializers.DateTimeField()


CLEAN_LABEL_COLUMNS = (
    "merchant_id",
    "merchant__external_id",
    "decision",
    "category__slug",
    "source",
    "confidence",
    "for_training",
    "propensity",
    "label_ids",
    "computed_at",
)
