"""Strict serializer fields: the API takes JSON types as they are. DRF's own fields coerce
(`true` reads as 1.0, `"0.5"` as 0.5, `5993` as the text "5993") and let NaN and the
infinities through; these refuse all of that, and an explanation is checked against its
schema with every error's path."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from supportability import validation


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    return {"str": "a string", "list": "a list", "dict": "an object"}.get(
        type(data).__name__, type(data).__name__
    )


class FiniteFloatField(serializers.FloatField):
    default_error_messages = {
        "not_a_number": "Must be a number, not {kind}.",
        "not_finite": "Must be a finite number, not {value}.",
        "out_of_range": "Must be a number a float can hold (within ±1.8e308).",
    }

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_a_number", kind=_kind(data))
        try:
            value = float(data)
        except OverflowError:
            # An integer past the largest float (JSON allows it): out of the field's range.
            if self.max_value is not None and data > self.max_value:
                self.fail("max_value", max_value=self.max_value)
            if self.min_value is not None and data < self.min_value:
                self.fail("min_value", min_value=self.min_value)
            self.fail("out_of_range")
        if not math.isfinite(value):
            self.fail("not_finite", value=data)
        return value


class StoredNumberField(FiniteFloatField):
    """A stored number, answered: read-only, and null where the row holds something that is
    not a finite number (written before the stored-value rules). As input it would refuse
    NaN and the infinities like any FiniteFloatField."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return validation.finite_or_none(value)


class WholeNumberField(serializers.IntegerField):
    default_error_messages = {
        "not_a_number": "Must be a whole number, not {kind}.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_a_number", kind=_kind(data))
        # An int is whole (and may be past the largest float: math.isfinite cannot take it).
        if isinstance(data, float) and (not math.isfinite(data) or data != int(data)):
            self.fail("invalid")
        return int(data)


class FlagField(serializers.BooleanField):
    """`true` or `false` (DRF also reads "yes", 1, "on"...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(
                f"Must be true or false, not {_kind(data)}.", "invalid"
            )
        return data


def _unicode(data: str) -> None:
    try:
        data.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError(
            "Must be valid Unicode text (it holds an unpaired surrogate).", "invalid"
        ) from None


class _StrictText:
    """Refuses anything but a JSON string (DRF turns numbers into text)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Must be a string, not {_kind(data)}.", "invalid")
        _unicode(data)
        return super().to_internal_value(data)  # type: ignore[misc]


class TextField(_StrictText, serializers.CharField):
    pass


class TokenField(_StrictText, serializers.UUIDField):
    pass


class ChoiceTextField(_StrictText, serializers.ChoiceField):
    pass


class SlugReferenceField(serializers.SlugRelatedField):
    """A related object named by its slug, given as a string (DRF looks 5 up as "5"). Text
    the database cannot compare (NUL on PostgreSQL, an unpaired surrogate for either
    driver) is refused before the lookup."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Must be a slug (a string), not {_kind(data)}.")
        _unicode(data)
        if "\x00" in data:
            raise serializers.ValidationError(
                "Null characters are not allowed.", "null_characters_not_allowed"
            )
        return super().to_internal_value(data)


class PatternField(_StrictText, serializers.RegexField):
    pass


class WebAddressField(_StrictText, serializers.URLField):
    pass


class SlugTextField(_StrictText, serializers.SlugField):
    pass


@extend_schema_field(validation.EXPLANATION_SCHEMA)
class ExplanationField(serializers.JSONField):
    """An explanation (supportability.validation.EXPLANATION_SCHEMA). Its errors are keyed
    by their path inside the field, e.g. `terms[0][1]`, so the response names
    `explanation.terms[0][1]`."""

    def to_internal_value(self, data: Any) -> Any:
        # The schema first: DRF's own check (json.dumps without NaN) refuses a NaN anywhere
        # inside as "not valid JSON" at the field, naming no place in it.
        errors: dict[str, list[str]] = {}
        for path, message in validation.explanation_errors(data, field=""):
            errors.setdefault(path, []).append(message)
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
