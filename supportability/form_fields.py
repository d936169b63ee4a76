"""Form fields for the browser's forms that hold stored values to the same rules as the API
(supportability.api.fields): a number is finite, said in the field's own error."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError


class FiniteFloatField(forms.FloatField):
    """A FloatField that refuses NaN and ±Infinity by name (typed as "nan", "inf", "1e999")
    before its range checks, so the form answers 400 naming the field."""

    default_error_messages = {"not_finite": "Enter a finite number, not {value}."}

    # django-stubs types FloatField.to_python with IntegerField's int return.
    def to_python(self, value: Any) -> float | None:  # type: ignore[override]
        text = str(value).strip() if value is not None else ""
        try:
            number = float(text) if text else None
        except ValueError:
            number = None  # not a number at all: the parent says so
        if number is not None and not math.isfinite(number):
            raise ValidationError(
                self.error_messages["not_finite"].format(value=text), code="not_finite"
            )
        return super().to_python(value)
