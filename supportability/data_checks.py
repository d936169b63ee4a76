"""Finding stored rows that break the stored-value rules.

Rows written before a rule existed (a NaN volume, an explanation of the wrong shape, an MCC
in Arabic-Indic digits) stay as they were: they are evidence, and nobody has looked at them
yet. This module finds them, by every CHECK constraint of the project's models (the rows a
constraint added "for new rows" would have refused) and by the rules no constraint can
say (the explanation schema, ASCII-only patterns, NUL in text on SQLite), so that an
operator can see them (`manage.py data_check`, the admin, the lead's dashboard) and
training and pages can leave them out.

`scan(apps)` takes an app registry, so the data migration that reports what was stored
before the rules runs it on its historical models, and the command on the live ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import CheckConstraint, F, Q, Value
from django.db.models.functions import Chr, StrIndex

from . import validation

APPS = ("supportability", "labeling", "review")
# Rows listed per rule; the count says how many more there are.
SHOWN = 1_000


@dataclass(frozen=True)
class Finding:
    model: str  # app_label.model_name
    row_id: str
    rule: str
    detail: str


def _fields(condition: Any) -> list[str]:
    """The model fields a Q condition reads (the first part of each lookup)."""
    if isinstance(condition, Q):
        names: list[str] = []
        for child in condition.children:
            for name in _fields(child):
                if name not in names:
                    names.append(name)
        return names
    if isinstance(condition, tuple):
        return [condition[0].split("__")[0]]
    return []


def _describe(values: dict[str, Any], fields: Iterable[str]) -> str:
    return ", ".join(f"{field}={values[field]!r}" for field in fields if field in values)


def _constraint_findings(model: Any) -> Iterator[Finding]:
    label = model._meta.label_lower
    for constraint in model._meta.constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        fields = [f for f in _fields(constraint.condition) if not f.startswith("_")]
        columns = [f for f in fields if f in {x.name for x in model._meta.concrete_fields}]
        broken = model._default_manager.exclude(constraint.condition).order_by("pk")
        for row in broken.values("pk", *columns)[:SHOWN]:
            yield Finding(label, str(row["pk"]), constraint.name, _describe(row, columns))


def _merchant_findings(apps: Any) -> Iterator[Finding]:
    merchant = apps.get_model("supportability", "Merchant")
    label = merchant._meta.label_lower
    patterns = {
        "mcc": validation.MCC_RE.pattern.replace("\\A", "^").replace("\\Z", "$"),
        "country": validation.COUNTRY_RE.pattern.replace("\\A", "^").replace("\\Z", "$"),
    }
    for field, pattern in patterns.items():
        rows = merchant.objects.exclude(**{f"{field}__regex": pattern}).order_by("pk")
        for pk, value in rows.values_list("pk", field)[:SHOWN]:
            yield Finding(label, str(pk), f"{field}_format", f"{field}={value!r}")
    if connection.vendor == "sqlite":  # PostgreSQL cannot store NUL in text at all
        for field in validation.MERCHANT_TEXT_LIMITS:
            # (LIKE cannot look for NUL on SQLite: the pattern ends there.)
            has_nul = StrIndex(F(field), Chr(Value(0)))
            rows = merchant.objects.alias(nul=has_nul).filter(nul__gt=0).order_by("pk")
            for pk in rows.values_list("pk", flat=True)[:SHOWN]:
                yield Finding(label, str(pk), f"{field}_nul", f"{field} holds NUL")


def _explanation_findings(apps: Any) -> Iterator[Finding]:
    """Explanations from upstream detectors (our own models write them from code)."""
    score = apps.get_model("supportability", "Score")
    label = score._meta.label_lower
    rows = (
        score.objects.filter(model_version__status="external")
        .order_by("pk")
        .values_list("pk", "explanation")
    )
    shown = 0
    for pk, value in rows.iterator(chunk_size=2_000):
        errors = list(validation.explanation_errors(value))
        if errors:
            path, message = errors[0]
            yield Finding(label, str(pk), "explanation_schema", f"{path}: {message}")
            shown += 1
            if shown >= SHOWN:
                return


def scan(apps: Any) -> list[Finding]:
    """Every stored row that breaks a rule (up to SHOWN per rule), in a stable order."""
    findings: list[Finding] = []
    for app_label in APPS:
        for model in apps.get_app_config(app_label).get_models():
            findings.extend(_constraint_findings(model))
    findings.extend(_merchant_findings(apps))
    findings.extend(_explanation_findings(apps))
    return findings


# Numbers the app derives and recomputes, which nobody reads as evidence: a stored row that
# breaks their rule is reset rather than kept. (PostgreSQL enforces even a NOT VALID
# constraint on every update of a row, so a queued item with a NaN priority could never be
# claimed again; the next re-prioritisation or round sets a real priority.)
RESET = {("labeling", "ReviewItem", "priority"): 0.0}


def repair_derived(apps: Any) -> list[Finding]:
    """Reset the derived numbers of RESET that break their rule; returns what was reset,
    with the value it held."""
    reset: list[Finding] = []
    for (app_label, model_name, field), value in RESET.items():
        model = apps.get_model(app_label, model_name)
        condition = validation.between(field, -validation.MAX_PRIORITY, validation.MAX_PRIORITY)
        broken = model._default_manager.exclude(condition)
        for pk, old in broken.values_list("pk", field):
            reset.append(
                Finding(
                    model._meta.label_lower,
                    str(pk),
                    f"{field}_reset",
                    f"{field}={old!r}, reset to {value!r} (a derived number, recomputed later)",
                )
            )
        broken.update(**{field: value})
    return reset


def report(findings: list[Finding]) -> str:
    if not findings:
        return "No stored row breaks the stored-value rules."
    lines = [f"{len(findings)} stored row(s) break the stored-value rules:"]
    lines += [f"  {f.model} {f.row_id}: {f.rule} ({f.detail})" for f in findings]
    lines.append(
        "Training, scoring and sampling leave these rows out; pages show their values as"
        " unavailable. Correct them at the source and run `manage.py data_check` again."
    )
    return "\n".join(lines)
