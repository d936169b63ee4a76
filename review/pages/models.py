"""Reads for the model registry and a model version's page: held-out metrics beside the
champion's, the geometry of their SVG plots, per-category changes, top terms and the gate.

Evaluations are stored in ``ModelVersion.metrics`` by the retraining chain's evaluate step
(``evaluation`` and ``champion_evaluation``, both ``Evaluation.as_dict()``), so the pages
read JSON and never load a model, except for its top terms, which are cached per artifact
hash (an artifact never changes under its hash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

from supportability.ml.evaluation import (
    FAILED,
    MIN_CATEGORY_POSITIVES,
    MIN_LABELS_PER_CATEGORY,
    NOT_ENOUGH_EVIDENCE,
    PASSED,
    Evaluation,
    Evidence,
    Interval,
    category_words,
    gate_evidence,
)
from supportability.ml.model import ModelLoadError, load_model
from supportability.models import ModelVersion, PolicyCategory, TrainingRun

from .model_plots import Plot, pr_plot, reliability_plot

TOP_TERMS = 15
# The gate's default tolerance for a category's PR-AUC (evaluation.gate): a larger fall is
# a regression, a smaller one is only worse.
CATEGORY_TOLERANCE = 0.05
NO_INTERVAL = Interval(None, None, None)
# Why a held-out figure is undefined (evaluation.evaluate leaves it None), in words.
NO_VIOLATORS = "no violating merchant among the held-out labels"
MISSING_WHY = {
    "pr_auc": NO_VIOLATORS,
    "recall": NO_VIOLATORS,
    "precision": "no held-out merchant scored 0.5 or more",
}


def versions() -> QuerySet[ModelVersion]:
    """Versions this app trained (not external detectors), without their artifacts."""
    return ModelVersion.objects.exclude(status=ModelVersion.Status.EXTERNAL).defer("artifact")


def evaluation_of(metrics: Mapping[str, Any], key: str = "evaluation") -> Evaluation | None:
    data = metrics.get(key)
    if not isinstance(data, Mapping):
        return None
    try:
        return Evaluation.from_dict(data)
    except (KeyError, TypeError, ValueError):  # an older or hand-edited shape: show none
        return None


def gate_minimum() -> int:
    """Held-out labels per category the gate asks for (the deployment's setting)."""
    return int(getattr(settings, "GATE_MIN_LABELS_PER_CATEGORY", MIN_LABELS_PER_CATEGORY))


@dataclass(frozen=True)
class Verdict:
    """What the chain's gate said about a version, in words with its evidence, and whether
    it waits for a lead. Never "passed" without the evidence: a verdict stored before the
    gate counted its labels is judged again on the evaluation stored beside it."""

    outcome: str  # PASSED, FAILED or NOT_ENOUGH_EVIDENCE
    headline: str  # e.g. "Not enough evidence: 38 labels, 6 of 7 categories below 30"
    reasons: list[str]  # the gate's reasons, after its headline
    held: bool  # a candidate the gate did not pass, with no run under way for it
    gate_passed: bool = False  # what the chain's gate said then (before it counted evidence)

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def not_enough_evidence(self) -> bool:
        return self.outcome == NOT_ENOUGH_EVIDENCE


_HEADLINES = ("Passed on ", "Failed on ", "Not enough evidence: ", "Held-out labels below ")


def _verdict(gate: Mapping[str, Any], evaluation: Evaluation | None, held: bool) -> Verdict:
    reasons = [str(r) for r in gate.get("reasons", [])]
    stored = gate.get("evidence")
    evidence = None
    if isinstance(stored, Mapping):
        try:
            evidence = Evidence.from_dict(stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            evidence = None
    if evidence is None:
        evidence = gate_evidence(evaluation, minimum=gate_minimum())
    kept = [r for r in reasons if not r.startswith(_HEADLINES)]
    if not evidence.enough:
        short = ", ".join(f"{category_words(c)} {n}" for c, n in evidence.short.items())
        detail = (
            [f"Held-out labels below the minimum of {evidence.minimum}: {short}."] if short else []
        )
        if gate.get("passed"):
            detail.append("The gate of the day passed it without counting its evidence.")
        headline = f"Not enough evidence: {evidence.summary}"
        return Verdict(NOT_ENOUGH_EVIDENCE, headline, detail + kept, held, bool(gate.get("passed")))
    if gate.get("passed"):
        return Verdict(PASSED, f"Passed on {evidence.summary}", kept, False, True)
    return Verdict(FAILED, f"Failed: worse than the champion on {evidence.summary}", kept, held)


def _verdicts(
    runs: Sequence[tuple[int | None, dict[str, Any], bool]],
    candidates: set[int],
    evaluations: Mapping[int, Evaluation | None],
) -> dict[int, Verdict]:
    """Per version, from its runs (model id, gate, active) oldest first: the latest verdict
    of the gate proper (a lead's override run passes it, but the held verdict stays the
    one to show until the candidate is promoted or rejected)."""
    failed: dict[int, Mapping[str, Any]] = {}
    passed: dict[int, Mapping[str, Any]] = {}
    active: set[int] = set()
    for model_id, stored, is_active in runs:
        if model_id is None:
            continue
        if is_active:
            active.add(model_id)
        if not isinstance(stored, dict) or "passed" not in stored:
            continue
        if stored["passed"]:
            passed.setdefault(model_id, stored)
        else:
            failed[model_id] = stored
    out = {}
    for model_id in failed.keys() | passed.keys():
        held = model_id in candidates and model_id not in active
        latest = failed.get(model_id) or passed[model_id]
        out[model_id] = _verdict(latest, evaluations.get(model_id), held)
    return out


@dataclass(frozen=True)
class RegistryRow:
    model: ModelVersion
    evaluation: Evaluation | None
    verdict: Verdict | None


def model_registry() -> list[RegistryRow]:
    """Every version, newest first, with its held-out evaluation and gate verdict: two
    queries whatever the number of versions."""
    models = list(versions().select_related("snapshot").order_by("-created_at", "-id"))
    candidates = {m.pk for m in models if m.status == ModelVersion.Status.CANDIDATE}
    runs = TrainingRun.objects.filter(model_version_id__in=[m.pk for m in models]).order_by("id")
    evaluations = {m.pk: evaluation_of(m.metrics) for m in models}
    verdicts = _verdicts(
        list(runs.values_list("model_version_id", "gate", "holds_lock")), candidates, evaluations
    )
    return [RegistryRow(m, evaluations[m.pk], verdicts.get(m.pk)) for m in models]


# --- one version's page ---------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    label: str
    ours: Interval
    theirs: Interval
    higher_is_better: bool
    why_ours: str = ""  # why a figure is missing, in words
    why_theirs: str = ""

    @property
    def diff(self) -> float | None:
        if self.ours.estimate is None or self.theirs.estimate is None:
            return None
        return self.ours.estimate - self.theirs.estimate

    @property
    def why_no_diff(self) -> str:
        return "needs both figures" if self.diff is None else ""

    @property
    def better(self) -> bool | None:
        diff = self.diff
        if diff is None or diff == 0:
            return None
        return (diff > 0) == self.higher_is_better


def comparisons(ours: Evaluation, theirs: Evaluation | None) -> list[Comparison]:
    def pick(e: Evaluation | None, name: str) -> Interval:
        if e is None:
            return NO_INTERVAL
        value = getattr(e, name)
        return value if isinstance(value, Interval) else Interval(value, None, None)

    def why(e: Evaluation | None, name: str) -> str:
        if e is None:
            return "no champion evaluated on these labels"
        return MISSING_WHY.get(name, "undefined on these labels")

    rows = (
        ("PR-AUC", "pr_auc", True),
        ("Precision at 0.5", "precision", True),
        ("Recall at 0.5", "recall", True),
        ("ECE", "ece", False),
        ("Brier", "brier", False),
    )
    return [
        Comparison(label, pick(ours, n), pick(theirs, n), up, why(ours, n), why(theirs, n))
        for label, n, up in rows
    ]


@dataclass(frozen=True)
class CategoryRow:
    slug: str
    name: str
    n: int
    recall: Interval
    pr_auc: Interval
    champion_recall: Interval
    champion_pr_auc: Interval
    minimum: int = MIN_LABELS_PER_CATEGORY  # held-out labels the gate asks of a category

    @property
    def diff(self) -> float | None:
        if self.pr_auc.estimate is None or self.champion_pr_auc.estimate is None:
            return None
        return self.pr_auc.estimate - self.champion_pr_auc.estimate

    @property
    def short(self) -> bool:
        """Below the gate's minimum of held-out labels: not enough evidence."""
        return self.n < self.minimum

    @property
    def few(self) -> bool:
        """Too few violators for the gate to compare (it skips the category)."""
        return self.n < MIN_CATEGORY_POSITIVES

    @property
    def regression(self) -> bool:
        """A fall the gate would refuse (it does not compare categories with few violators)."""
        return not self.few and self.diff is not None and self.diff < -CATEGORY_TOLERANCE

    @property
    def worse(self) -> bool:
        return self.diff is not None and self.diff < 0

    @property
    def why_ours(self) -> str:
        return "no violator of it held out" if self.n == 0 else "not scored for it"

    @property
    def why_theirs(self) -> str:
        return "the champion was not evaluated on it"

    @property
    def why_no_diff(self) -> str:
        return "needs both PR-AUCs" if self.diff is None else ""


def category_rows(
    ours: Evaluation, theirs: Evaluation | None, names: Mapping[str, str]
) -> list[CategoryRow]:
    before = theirs.per_category if theirs else {}
    rows = []
    for slug in sorted(ours.per_category.keys() | before.keys()):
        mine, old = ours.per_category.get(slug), before.get(slug)
        either = mine or old
        rows.append(
            CategoryRow(
                slug=slug,
                name=names.get(slug, slug),
                n=either.n if either else 0,
                recall=mine.recall if mine else NO_INTERVAL,
                pr_auc=mine.pr_auc if mine else NO_INTERVAL,
                champion_recall=old.recall if old else NO_INTERVAL,
                champion_pr_auc=old.pr_auc if old else NO_INTERVAL,
                minimum=gate_minimum(),
            )
        )
    return rows


@dataclass(frozen=True)
class Term:
    term: str
    weight: float


@lru_cache(maxsize=64)
def _top_terms(sha256: str) -> tuple[Term, ...]:
    """The strongest positive terms of the model stored under this hash. Raises LookupError
    when no version holds that artifact (not cached, so a later registration shows)."""
    blob = (
        ModelVersion.objects.filter(artifact_sha256=sha256, artifact__isnull=False)
        .values_list("artifact", flat=True)
        .first()
    )
    if blob is None:
        raise LookupError(sha256)
    trained = load_model(bytes(blob), expected_sha256=sha256)
    coef = np.asarray(trained.explainer.coef_[0][: len(trained.term_names)], dtype=float)
    order = np.argsort(-coef, kind="stable")[:TOP_TERMS]
    return tuple(Term(trained.term_names[i], float(coef[i])) for i in order if coef[i] > 0)


def top_terms(model: ModelVersion | None) -> tuple[Term, ...] | None:
    """None when the version has no readable artifact."""
    if model is None or not model.artifact_sha256:
        return None
    try:
        return _top_terms(model.artifact_sha256)
    except (LookupError, ModelLoadError):
        return None


@dataclass(frozen=True)
class ModelPage:
    model: ModelVersion
    compared_with: ModelVersion | None  # the champion it was evaluated against, if any
    compared_name: str  # that champion's name@version, as recorded
    evaluation: Evaluation | None
    champion_evaluation: Evaluation | None
    comparisons: list[Comparison]
    categories: list[CategoryRow]
    reliability: Plot | None
    pr_curve: Plot | None
    terms: tuple[Term, ...] | None
    champion_terms: tuple[Term, ...] | None
    verdict: Verdict | None
    runs: list[TrainingRun]
    retraining_active: bool

    @property
    def terms_added(self) -> list[str]:
        theirs = {t.term for t in self.champion_terms or ()}
        return [t.term for t in self.terms or () if t.term not in theirs]

    @property
    def terms_dropped(self) -> list[str]:
        ours = {t.term for t in self.terms or ()}
        return [t.term for t in self.champion_terms or () if t.term not in ours]

    @property
    def filters(self) -> list[tuple[str, str]]:
        snapshot = self.model.snapshot
        return sorted((str(k), str(v)) for k, v in (snapshot.filters if snapshot else {}).items())


def _compared_with(model: ModelVersion, recorded: str) -> ModelVersion | None:
    """The recorded champion (name@version), else the current champion if it is another."""
    name, _, version = recorded.rpartition("@")
    found = versions().filter(name=name, version=version).first() if name else None
    if found is None:
        found = versions().filter(status=ModelVersion.Status.CHAMPION).first()
    return found if found is not None and found.pk != model.pk else None


def model_page(*, model_id: int) -> ModelPage | None:
    model = (
        versions()
        .select_related("snapshot", "snapshot__policy_version")
        .filter(pk=model_id)
        .first()
    )
    if model is None:
        return None
    recorded = str(model.metrics.get("champion") or "")
    compared = _compared_with(model, recorded)
    ours, theirs = evaluation_of(model.metrics), evaluation_of(model.metrics, "champion_evaluation")
    runs = list(TrainingRun.objects.filter(model_version=model).select_related("requested_by"))
    verdict = _verdicts(
        [(r.model_version_id, r.gate, r.holds_lock) for r in reversed(runs)],
        {model.pk} if model.status == ModelVersion.Status.CANDIDATE else set(),
        {model.pk: ours},
    ).get(model.pk)
    slugs = set(ours.per_category if ours else ()) | set(theirs.per_category if theirs else ())
    names = dict(PolicyCategory.objects.filter(slug__in=slugs).values_list("slug", "name"))
    champion_name = recorded or (str(compared) if compared else "champion")
    curves = [(str(model), ours), (champion_name, theirs)]
    return ModelPage(
        model=model,
        compared_with=compared,
        compared_name=champion_name,
        evaluation=ours,
        champion_evaluation=theirs,
        comparisons=comparisons(ours, theirs) if ours else [],
        categories=category_rows(ours, theirs, names) if ours else [],
        reliability=reliability_plot(curves),
        pr_curve=pr_plot(curves),
        terms=top_terms(model),
        champion_terms=top_terms(compared),
        verdict=verdict,
        runs=runs,
        retraining_active=TrainingRun.objects.filter(holds_lock=True).exists(),
    )
