"""Filters that read stored values for a page without ever failing on one (rows written
before the stored-value rules): a number that is not finite reads as None, an explanation
that breaks its schema as None, and the template says "unavailable"."""

from __future__ import annotations

from typing import Any

from django import template

from supportability import validation

register = template.Library()


@register.filter
def finite(value: Any) -> float | None:
    """`{{ x|finite|floatformat:2|default:"unavailable" }}`"""
    return validation.finite_or_none(value)


@register.filter
def readable_explanation(value: Any) -> validation.Explanation | None:
    return validation.explanation_read(value)
