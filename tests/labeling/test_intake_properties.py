"""The flag intake serializer over arbitrary JSON-like input (hypothesis): it either
validates into values that hold to the stored-value rules (checked with
supportability.validation and the intake service's own check), or refuses with errors
whose paths name fields that are at fault; it never raises.

Rows are mostly well-formed, with a few fields (or places inside the explanation) swapped
for junk: NaN and the infinities, booleans, integers past the largest float, Unicode
digits, NUL, unpaired surrogates, wrong types and nested lists and objects."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labeling.api.serializers import MAX_FLAGS_PER_REQUEST, FlagBatchSerializer
from labeling.services.intake import flag_check
from supportability import validation
from supportability.api.errors import flatten
from supportability.errors import InvalidInput
from supportability.models import PolicyCategory

pytestmark = pytest.mark.django_db

MISSING = object()  # a field left out of the row

# --- junk -----------------------------------------------------------------------------------

NASTY_TEXT = (
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "5999\n",
    " US",
    "\u0665\u0669\u0669\u0663",  # Arabic-Indic digits
    "\uff15\uff19\uff19\uff19",  # full-width digits
    "NaN",
    "Infinity",
    "true",
    "1e400",
    "gambling\x00",
    "Gambling",
)
NASTY_NUMBERS = (math.nan, math.inf, -math.inf, 10**400, -(10**400), 2**63, 1e308, -0.0, 5e-324)
# Any code point, unpaired surrogates included (hypothesis leaves those out by default).
TEXT = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(NASTY_TEXT)
NUMBERS = st.floats() | st.integers() | st.sampled_from(NASTY_NUMBERS)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
EDGES: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, False, *NASTY_NUMBERS, *NASTY_TEXT]
) | st.builds(list)
JUNK = EDGES | TEXT | NUMBERS | JSON | st.just(MISSING)

# --- well-formed values ---------------------------------------------------------------------

PLAIN = st.characters(exclude_categories=("Cs", "Cc"))
WORDS = st.text(PLAIN, min_size=1, max_size=30).filter(str.strip)
NAME = st.text(PLAIN, min_size=1, max_size=30)
SLUG = st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True)


def pairs(*items: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.tuples(*items).map(list), max_size=3)


EXPLANATION = st.fixed_dictionaries(
    {},
    optional={
        "terms": pairs(NAME, st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6)),
        "features": pairs(NAME, st.floats(-1e12, 1e12), st.floats(-1e6, 1e6)),
        "categories": pairs(SLUG, st.floats(0, 1)),
    },
)


def _junk_inside(explanation: dict[str, Any], draw: st.DrawFn) -> Any:
    """The explanation with junk in one place: a key, a list, a pair or a pair's item."""
    spoiled: dict[str, Any] = {key: [list(p) for p in value] for key, value in explanation.items()}
    where = draw(st.sampled_from(["key", "list", "pair", "item"]))
    key = draw(st.sampled_from(["terms", "features", "categories"]))
    listed = spoiled.setdefault(key, [])
    if where == "key":
        spoiled[draw(TEXT)] = draw(JSON)
    elif where == "list" or not listed:
        spoiled[key] = draw(JSON)
    elif where == "pair":
        listed[draw(st.integers(0, len(listed) - 1))] = draw(JSON)
    else:
        pair = listed[draw(st.integers(0, len(listed) - 1))]
        pair[draw(st.integers(0, len(pair) - 1))] = draw(JSON)
    return spoiled


MERCHANT = {
    "external_id": st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True),
    "name": WORDS,
    "country": st.from_regex(r"[A-Z]{2}", fullmatch=True),
    "mcc": st.from_regex(r"[0-9]{4}", fullmatch=True),
    "url": st.sampled_from(["", "https://shop.example", "http://a.example/p?q=1"]),
    "description": st.text(PLAIN, max_size=30),
    "website_text": st.text(PLAIN, max_size=30),
    "refund_rate": st.floats(0, 1),
    "dispute_rate": st.floats(0, 1),
    "cnp_share": st.floats(0, 1) | st.sampled_from([0, 1]),
    "account_age_days": st.integers(0, validation.MAX_ACCOUNT_AGE_DAYS) | st.just(12.0),
    "monthly_volume": st.floats(0, validation.MAX_VOLUME) | st.integers(0, 10**12),
}
MODEL = {"name": WORDS, "version": WORDS}
CATEGORY = st.none() | st.sampled_from(["gambling", "pseudo-pharmaceuticals", "none"])
NUMERIC = {f"merchant.{field}" for field in validation.MERCHANT_BOUNDS} | {"score"}
PLACES = (
    [f"merchant.{field}" for field in MERCHANT]
    + [f"model.{field}" for field in MODEL]
    + ["merchant", "model", "score", "category", "explanation", "explanation.inside", "row"]
)


@st.composite
def rows(draw: st.DrawFn) -> Any:
    # Most rows have one or two places spoiled; some are well-formed.
    spoil = draw(
        st.just(frozenset()) | st.frozensets(st.sampled_from(PLACES), min_size=1, max_size=2)
    )

    def value(place: str, valid: st.SearchStrategy[Any]) -> Any:
        # Near misses of the right type (text for text, numbers for numbers) or anything.
        near = NUMBERS if place in NUMERIC else TEXT
        return draw(near | JUNK if place in spoil else valid)

    merchant = {field: value(f"merchant.{field}", s) for field, s in MERCHANT.items()}
    model = {field: value(f"model.{field}", s) for field, s in MODEL.items()}
    explanation = draw(EXPLANATION)
    if "explanation.inside" in spoil:
        explanation = _junk_inside(explanation, draw)
    row = {
        "merchant": draw(JUNK) if "merchant" in spoil else merchant,
        "model": draw(JUNK) if "model" in spoil else model,
        "score": value("score", st.floats(0, 1) | st.sampled_from([0, 1])),
        "category": value("category", CATEGORY),
        "explanation": value("explanation", st.just(explanation)),
    }
    row = _without_missing(row)
    return draw(JSON) if "row" in spoil else row


def _without_missing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_missing(v) for k, v in value.items() if v is not MISSING}
    return value


@st.composite
def batches(draw: st.DrawFn) -> Any:
    batch = draw(st.lists(rows(), min_size=1, max_size=3))
    if len(batch) > 1 and draw(st.booleans()):
        # Two rows about one merchant (the same model version, or another description).
        first, second = batch[0], batch[1]
        if all(isinstance(r, dict) and isinstance(r.get("merchant"), dict) for r in batch[:2]):
            second["merchant"]["external_id"] = first["merchant"].get("external_id")
            if draw(st.booleans()) and isinstance(first.get("model"), dict):
                second["model"] = dict(first["model"])
    return draw(st.just(batch) | st.just(batch) | st.just([]) | JSON)


# --- the rules, field by field (supportability.validation) ----------------------------------

REQUIRED = {"external_id", "name", "country", "mcc"}
TEXT_FIELDS = set(validation.MERCHANT_TEXT_LIMITS) | {"country", "mcc"}
MODEL_LIMITS = {"name": 100, "version": 64}


def _stripped(value: Any) -> Any:
    # DRF trims text before its checks; the rules apply to what it would store.
    return value.strip() if isinstance(value, str) else value


def _breaks(check: Any) -> bool:
    try:
        check()
    except (InvalidInput, DjangoValidationError):
        return True
    return False


def merchant_field_at_fault(field: str, value: Any) -> bool:
    if value is MISSING:
        return field in REQUIRED
    if field in TEXT_FIELDS:
        if not isinstance(value, str):
            return True
        value = value.strip()
        if field == "url" and value and _breaks(lambda: URLValidator()(value)):
            return True
    return _breaks(lambda: validation.merchant_values({field: value}))


def model_field_at_fault(field: str, value: Any) -> bool:
    return not isinstance(value, str) or _breaks(
        lambda: validation.text(
            value.strip(), field=field, max_length=MODEL_LIMITS[field], blank=False
        )
    )


def category_at_fault(value: Any) -> bool:
    if value is MISSING or value in (None, ""):  # DRF reads "" as no related object
        return False
    if not isinstance(value, str) or _breaks(
        lambda: validation.text(value, field="", max_length=64)
    ):
        return True
    return not PolicyCategory.objects.filter(slug=value, assignable=True).exists()


def score_at_fault(value: Any) -> bool:
    return value is MISSING or _breaks(lambda: validation.probability(value, field="score"))


def explanation_paths(value: Any, index: int) -> set[str]:
    if value is MISSING:
        return set()
    return {
        path for path, _ in validation.explanation_errors(value, field=f"[{index}].explanation")
    }


def faults(batch: list[Any]) -> set[str]:
    """Every path the rules say is at fault in a batch's rows, each field on its own."""
    found: set[str] = set()
    for index, row in enumerate(batch):
        if not isinstance(row, dict):
            found.add(f"[{index}]")
            continue
        for part, fields, at_fault in (
            ("merchant", MERCHANT, merchant_field_at_fault),
            ("model", MODEL, model_field_at_fault),
        ):
            values = row.get(part, MISSING)
            if not isinstance(values, dict):
                found.add(f"[{index}].{part}")
                continue
            found |= {
                f"[{index}].{part}.{field}"
                for field in fields
                if at_fault(field, values.get(field, MISSING))
            }
        if score_at_fault(row.get("score", MISSING)):
            found.add(f"[{index}].score")
        if category_at_fault(row.get("category", MISSING)):
            found.add(f"[{index}].category")
        found |= explanation_paths(row.get("explanation", MISSING), index)
    return found


def _external_id(row: Any) -> Any:
    return _stripped(row["merchant"].get("external_id")) if isinstance(row, dict) else None


def repeats_an_earlier_merchant(batch: list[Any], index: int) -> bool:
    return any(_external_id(batch[k]) == _external_id(batch[index]) for k in range(index))


# --- the property ---------------------------------------------------------------------------

GOOD_ROW = {
    "merchant": {"external_id": "M-1", "name": "Shop", "country": "GB", "mcc": "5999"},
    "model": {"name": "upstream", "version": "1"},
    "score": 0.5,
}


@given(batch=batches())
# Inputs that once failed (a 500 or a vague path), run every time beside the generated ones.
@example(batch=[GOOD_ROW | {"score": 10**400}])
@example(batch=[GOOD_ROW | {"category": "gambling\x00"}])
@example(batch=[GOOD_ROW | {"category": "gambling\ud800"}])
@example(batch=[GOOD_ROW | {"explanation": {"terms": [["pills", math.nan]]}}])
@settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_intake_validates_into_stored_value_rules_or_names_the_fields_at_fault(batch):
    serializer = FlagBatchSerializer(data=batch)
    if serializer.is_valid():
        for index, row in enumerate(serializer.validated_data):
            holds_to_the_rules(row, index)
        return
    errors = [error["field"] for error in flatten(serializer.errors)]
    assert errors, serializer.errors
    if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_FLAGS_PER_REQUEST:
        assert errors == [""], errors  # the batch as a whole
        return
    at_fault = faults(batch)
    for path in errors:
        # Rows valid on their own may still clash: one merchant twice (same model version,
        # or described differently), named at the later row's external_id.
        clash = re.fullmatch(r"\[(\d+)\]\.merchant\.external_id", path)
        assert path in at_fault or (
            clash is not None and repeats_an_earlier_merchant(batch, int(clash[1]))
        ), (path, at_fault, batch)
    assert at_fault <= set(errors), (at_fault - set(errors), batch)


def holds_to_the_rules(row: dict[str, Any], index: int) -> None:
    checked = flag_check(row, index=index)  # the intake service's own check: no InvalidInput
    merchant = row["merchant"]
    assert checked["merchant"] == merchant  # nothing left to coerce
    for field, (low, high) in validation.MERCHANT_BOUNDS.items():
        value = merchant[field]
        assert type(value) is (int if field in validation.MERCHANT_INTEGERS else float)
        assert math.isfinite(value) and low <= value <= high
    for field, limit in validation.MERCHANT_TEXT_LIMITS.items():
        assert "\x00" not in merchant[field] and len(merchant[field]) <= limit
        merchant[field].encode("utf-8")
    for field in MODEL_LIMITS:
        assert not model_field_at_fault(field, row["model"][field])
    assert type(row["score"]) is float and 0 <= row["score"] <= 1
    assert not list(validation.explanation_errors(row["explanation"]))
    category = row.get("category")
    assert category is None or (isinstance(category, PolicyCategory) and category.assignable)
