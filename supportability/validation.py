"""What a stored value may be, checked at every entry point.

Stored data is rendered and trained on for years, so each value that reaches a service
(from the API's serializers, a lead's form, a bulk file, a management command or the demo
seed) is held to the same rules before it is written, and the database's CHECK
constraints (built from the same bounds, `between`) refuse whatever slips past:

- numbers are numbers (a boolean is not), finite, and within their field's range;
- text holds no NUL character (PostgreSQL cannot store one; nothing renders it);
- an MCC is four ASCII digits, a country two ASCII capitals;
- an explanation follows `EXPLANATION_SCHEMA` (JSON Schema), checked with the
  `jsonschema` package; errors name the path (`explanation.terms[0][1]`).

Everything raises `InvalidInput(field, message)`, which the HTTP layers answer with a 4xx
naming the field.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import numpy as np
from django.db.models import Q
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError

from .errors import InvalidInput

# --- numbers ------------------------------------------------------------------------------

# Past any merchant's monthly card volume (in the account's currency), and far inside the
# range where a float still counts cents.
MAX_VOLUME = 1e12
MAX_ACCOUNT_AGE_DAYS = 100_000
# Bounds of the numbers the queue keeps per item (priorities mix probabilities with log
# volume and ranks; seconds spent on one label).
MAX_PRIORITY = 1e9
MAX_SECONDS = 10 * 24 * 3600.0
# A training row's weight: 1/π reaches a million for a merchant drawn at π = 1e-6.
MAX_WEIGHT = 1e9

MERCHANT_BOUNDS: dict[str, tuple[float, float]] = {
    "refund_rate": (0.0, 1.0),
    "dispute_rate": (0.0, 1.0),
    "cnp_share": (0.0, 1.0),
    "account_age_days": (0, MAX_ACCOUNT_AGE_DAYS),
    "monthly_volume": (0.0, MAX_VOLUME),
}
MERCHANT_INTEGERS = frozenset({"account_age_days"})


def between(field: str, low: float, high: float, *, nullable: bool = False) -> Q:
    """The condition of a CHECK constraint that keeps `field` finite and in [low, high].
    PostgreSQL orders NaN above every number and SQLite stores it as NULL, so a bounded
    range refuses NaN and both infinities on either database. A nullable field may also be
    NULL (written out, so that `exclude(condition)` finds exactly the rows that break it)."""
    condition = Q(**{f"{field}__gte": low, f"{field}__lte": high})
    return Q(**{f"{field}__isnull": True}) | condition if nullable else condition


def merchant_usable(prefix: str = "") -> Q:
    """Merchants whose numbers a model can read: every bound of MERCHANT_BOUNDS holds (the
    CHECK constraints guarantee it for rows written since they exist; older rows may break
    it, and training, scoring and sampling leave those out and count them). `prefix` is
    the path to the merchant, e.g. "merchant__"."""
    condition = Q()
    for field, (low, high) in MERCHANT_BOUNDS.items():
        condition &= between(prefix + field, low, high)
    return condition


def number(
    value: Any, *, field: str, low: float, high: float, integer: bool = False
) -> float | int:
    """`value` as a finite number in [low, high], or InvalidInput naming `field`. Strict:
    booleans and numeric strings are refused; an integer field takes integral floats."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        kind = "a boolean" if isinstance(value, bool | np.bool_) else type(value).__name__
        raise InvalidInput(field, f"Must be a number, not {kind}.")
    if not _finite(value):
        raise InvalidInput(field, f"Must be a finite number, not {value}.")
    if integer and value != int(value):
        raise InvalidInput(field, "Must be a whole number.")
    # Compared before converting: an integer past the largest float has no float.
    if not low <= value <= high:
        raise InvalidInput(field, f"Must be between {low:g} and {high:g}.")
    return int(value) if integer else float(value)


def _finite(value: Any) -> bool:
    """Whether a number is finite. Integers are, including those past the largest float
    (JSON allows them; math.isfinite cannot convert them)."""
    return isinstance(value, numbers.Integral) or math.isfinite(value)


def finite_or_none(value: Any) -> float | None:
    """For reading stored numbers back out (rows written before these rules): the value if
    it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


# --- text ---------------------------------------------------------------------------------

MCC_RE = re.compile(r"\A[0-9]{4}\Z")
COUNTRY_RE = re.compile(r"\A[A-Z]{2}\Z")
EXTERNAL_ID_RE = re.compile(r"\A[^\x00-\x1f\x7f]+\Z")
MERCHANT_TEXT_LIMITS: dict[str, int] = {
    "external_id": 64,
    "name": 200,
    "url": 500,
    "description": 10_000,
    "website_text": 100_000,
}


def text(value: Any, *, field: str, max_length: int, blank: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, f"Must be a string, not {type(value).__name__}.")
    if "\x00" in value:
        raise InvalidInput(field, "Must not contain the NUL character (\\u0000).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            field, "Must be valid Unicode text (it holds an unpaired surrogate)."
        ) from None
    if len(value) > max_length:
        raise InvalidInput(field, f"At most {max_length:,} characters (this has {len(value):,}).")
    if not blank and not value.strip():
        raise InvalidInput(field, "Must not be blank.")
    return value


def merchant_values(values: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """A merchant's fields checked (services call this before writing one): the same
    rules as the API's serializer, so the seed, bulk files and anything else that creates
    merchants cannot store what the API refuses."""
    out = dict(values)
    for field, limit in MERCHANT_TEXT_LIMITS.items():
        if field in out:
            blank = field not in {"external_id", "name"}
            out[field] = text(out[field], field=prefix + field, max_length=limit, blank=blank)
    if "external_id" in out and not EXTERNAL_ID_RE.match(out["external_id"]):
        raise InvalidInput(prefix + "external_id", "Must not contain control characters.")
    if "mcc" in out and not (isinstance(out["mcc"], str) and MCC_RE.match(out["mcc"])):
        raise InvalidInput(prefix + "mcc", "A merchant category code: four ASCII digits.")
    if "country" in out and not (
        isinstance(out["country"], str) and COUNTRY_RE.match(out["country"])
    ):
        raise InvalidInput(prefix + "country", "ISO 3166-1 alpha-2, two capital letters.")
    for field, (low, high) in MERCHANT_BOUNDS.items():
        if field in out:
            out[field] = number(
                out[field],
                field=prefix + field,
                low=low,
                high=high,
                integer=field in MERCHANT_INTEGERS,
            )
    return out


def probability(value: Any, *, field: str) -> float:
    return float(number(value, field=field, low=0.0, high=1.0))


# --- explanations -------------------------------------------------------------------------

# No NUL (PostgreSQL's jsonb refuses it). No unpaired surrogate either (not valid Unicode):
# the validator's "string" type refuses those, not the pattern, which OpenAPI tools read
# too (Rust's regex engine, behind jsonschema-rs and schemathesis, has no surrogates and
# refuses a pattern that names them).
_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^[^\\u0000]*$",
}
_WEIGHT = {"type": "number", "minimum": -1e6, "maximum": 1e6}
_RAW = {"type": "number", "minimum": -MAX_VOLUME, "maximum": MAX_VOLUME}
_SLUG = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9_-]+$"}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
MAX_EXPLANATION_ITEMS = 50


def _pairs(*items: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": MAX_EXPLANATION_ITEMS,
        "description": description,
        "items": {
            "type": "array",
            "prefixItems": list(items),
            "minItems": len(items),
            "maxItems": len(items),
        },
    }


EXPLANATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Explanation",
    "description": (
        "Why the model scored the merchant as it did. Every key is optional; no other key is"
        " accepted."
    ),
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "terms": _pairs(
            _NAME,
            _WEIGHT,
            description="[term, weight]: words of the merchant's text that raised the score",
        ),
        "features": _pairs(
            _NAME,
            _RAW,
            _WEIGHT,
            description="[feature, value, weight]: numeric signals and their contributions",
        ),
        "categories": _pairs(
            _SLUG,
            _SHARE,
            description="[category slug, probability]: the likeliest policy categories",
        ),
    },
}


def _finite_number(checker: Any, instance: Any) -> bool:
    return (
        isinstance(instance, int | float) and not isinstance(instance, bool) and _finite(instance)
    )


def _unicode_string(checker: Any, instance: Any) -> bool:
    if not isinstance(instance, str):
        return False
    try:
        instance.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Draft 2020-12 with two changes: NaN and the infinities are not numbers, and text with an
# unpaired surrogate is not a string (Python's json reads both; JSON text has neither).
_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _finite_number, "string": _unicode_string}
    ),
)
_EXPLANATION = _Validator(EXPLANATION_SCHEMA)
# The same schema, compiled by jsonschema-rs: about 80 times faster on the common case, a
# valid explanation (2 µs against 170 µs; intake checks every row, the claim every score).
# It reads NaN and the infinities as null and refuses unpaired surrogates by raising, so
# it never passes what the rules above refuse; whatever it does not pass is looked at again
# by the validator above, which has the last word and the error messages.
_EXPLANATION_FAST = jsonschema_rs.validator_for(EXPLANATION_SCHEMA)


def _explanation_valid(value: Any) -> bool:
    try:
        if _EXPLANATION_FAST.is_valid(value):
            return True
    except (ValueError, TypeError, OverflowError):  # (UnicodeEncodeError is a ValueError)
        pass
    return bool(_EXPLANATION.is_valid(value))


def json_path(root: str, path: Any) -> str:
    """`explanation` + ["terms", 0, 1] -> `explanation.terms[0][1]`."""
    out = root
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: SchemaError) -> str:
    if error.validator == "type" and error.validator_value == "number":
        return "Must be a finite number."
    if (
        error.validator == "type"
        and error.validator_value == "string"
        and isinstance(error.instance, str)
    ):
        return "Must be valid Unicode text (it holds an unpaired surrogate)."
    if error.validator == "pattern" and error.validator_value == _NAME["pattern"]:
        return "Must not contain NUL (\\u0000)."
    if error.validator == "additionalProperties":
        allowed = ", ".join(EXPLANATION_SCHEMA["properties"])
        return f"{error.message}; the keys are {allowed}."
    return str(error.message)


def explanation_errors(value: Any, *, field: str = "explanation") -> Iterator[tuple[str, str]]:
    """(path, message) for each way `value` breaks the explanation schema, deepest first."""
    if _explanation_valid(value):
        return
    errors = sorted(_EXPLANATION.iter_errors(value), key=lambda e: (list(e.path), e.message))
    for error in errors:
        yield json_path(field, error.absolute_path), _message(error)


def explanation(value: Any, *, field: str = "explanation") -> dict[str, Any]:
    """The explanation if it follows the schema, else InvalidInput naming the first path."""
    for path, message in explanation_errors(value, field=field):
        raise InvalidInput(path, message)
    return dict(value)


@dataclass(frozen=True)
class Term:
    term: str
    weight: float


@dataclass(frozen=True)
class Signal:
    name: str
    value: float
    weight: float


@dataclass(frozen=True)
class Explanation:
    """A stored explanation, read for a page: always well-formed."""

    terms: tuple[Term, ...]
    features: tuple[Signal, ...]
    categories: tuple[tuple[str, float], ...]


def explanation_read(value: Any) -> Explanation | None:
    """A stored explanation for rendering, or None when it breaks the schema (a row
    written before intake checked it): the page says "explanation unavailable" instead of
    failing."""
    if value is None or not _explanation_valid(value):
        return None
    return Explanation(
        terms=tuple(Term(t, float(w)) for t, w in value.get("terms", [])),
        features=tuple(Signal(n, float(v), float(w)) for n, v, w in value.get("features", [])),
        categories=tuple((slug, float(p)) for slug, p in value.get("categories", [])),
    )
