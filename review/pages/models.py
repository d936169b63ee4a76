"""Reads for the model registry and a model version's page: held-out metrics beside the
champion's, the geometry of their SVG plots, per-category changes, top terms and the gate.

Evaluations are stored in ``ModelVersion.metrics`` by the retraining chain's evaluate step
(``evaluation`` and ``champion_evaluation``, both ``Evaluation.as_dict()``), so the pages
read JSON and never load a model, except for its top terms, which are cached per artifact
hash (an artifact never changes under its hash).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from django.db.models import QuerySet

from supportability.ml.evaluation import MIN_CATEGORY_POSITIVES, Evaluation, Interval
from supportability.ml.model import ModelLoadError, load_model
from supportability.models import ModelVersion, PolicyCategory, TrainingRun

TOP_TERMS = 15
# The gate's default tolerance for a category's PR-AUC (evaluation.gate): a larger fall is
# a regression, a smaller one is only worse.
CATEGORY_TOLERANCE = 0.05
NO_INTERVAL = Interval(None, None, None)


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


@dataclass(frozen=True)
class Verdict:
    """What the chain's gate said about a version, and whether it waits for a lead."""

    passed: bool | None  # None when no run evaluated it
    reasons: list[str]
    held: bool  # a candidate whose gate failed, with no run under way for it


def _verdicts(
    runs: Sequence[tuple[int | None, dict[str, Any], bool]], candidates: set[int]
) -> dict[int, Verdict]:
    """Per version, from its runs (model id, gate, active) oldest first: the latest verdict
    of the gate proper (a lead's override run passes it, but the held verdict stays the
    one to show until the candidate is promoted or rejected)."""
    failed: dict[int, list[str]] = {}
    passed: dict[int, list[str]] = {}
    active: set[int] = set()
    for model_id, gate, is_active in runs:
        if model_id is None:
            continue
        if is_active:
            active.add(model_id)
        if not isinstance(gate, dict) or "passed" not in gate:
            continue
        reasons = [str(r) for r in gate.get("reasons", [])]
        if gate["passed"]:
            passed.setdefault(model_id, reasons)
        else:
            failed[model_id] = reasons
    out = {}
    for model_id in failed.keys() | passed.keys():
        if model_id in failed:
            held = model_id in candidates and model_id not in active
            out[model_id] = Verdict(False, failed[model_id], held)
        else:
            out[model_id] = Verdict(True, passed[model_id], False)
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
    verdicts = _verdicts(
        list(runs.values_list("model_version_id", "gate", "holds_lock")), candidates
    )
    return [RegistryRow(m, evaluation_of(m.metrics), verdicts.get(m.pk)) for m in models]


# --- one version's page ---------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    label: str
    ours: Interval
    theirs: Interval
    higher_is_better: bool

    @property
    def diff(self) -> float | None:
        if self.ours.estimate is None or self.theirs.estimate is None:
            return None
        return self.ours.estimate - self.theirs.estimate

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

    rows = (
        ("PR-AUC", "pr_auc", True),
        ("Precision at 0.5", "precision", True),
        ("Recall at 0.5", "recall", True),
        ("ECE", "ece", False),
        ("Brier", "brier", False),
    )
    return [Comparison(label, pick(ours, n), pick(theirs, n), up) for label, n, up in rows]


@dataclass(frozen=True)
class CategoryRow:
    slug: str
    name: str
    n: int
    recall: Interval
    pr_auc: Interval
    champion_recall: Interval
    champion_pr_auc: Interval

    @property
    def diff(self) -> float | None:
        if self.pr_auc.estimate is None or self.champion_pr_auc.estimate is None:
            return None
        return self.pr_auc.estimate - self.champion_pr_auc.estimate

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
            )
        )
    return rows


@dataclass(frozen=True)
class Tick:
    label: str
    x: float
    y: float


@dataclass(frozen=True)
class PlotPoint:
    x: float
    y: float
    r: float
    title: str


@dataclass(frozen=True)
class PlotSeries:
    name: str
    index: int  # the CSS class series-<index>
    points: tuple[PlotPoint, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Plot:
    """An SVG drawing's numbers: both axes run from 0 to 1 over a square."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: tuple[Tick, ...]
    series: tuple[PlotSeries, ...]
    x_label: str
    y_label: str
    diagonal: bool  # the y = x reference (perfect calibration)
    lines: bool  # join each series' points

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


PLOT_SIDE = 280


PointSpec = tuple[float, float, float, str]  # x, y in [0, 1], radius, title


def _plot(
    series: Sequence[tuple[str, Sequence[PointSpec]]],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool,
    lines: bool,
) -> Plot | None:
    """``series`` is (name, [(x, y, radius, title)]) with x and y in [0, 1]."""
    if not any(points for _, points in series):
        return None
    left, top = 58, 10
    right, bottom = left + PLOT_SIDE, top + PLOT_SIDE

    def px(value: float) -> float:
        return left + min(max(value, 0.0), 1.0) * PLOT_SIDE

    def py(value: float) -> float:
        return bottom - min(max(value, 0.0), 1.0) * PLOT_SIDE

    drawn = tuple(
        PlotSeries(name, i, tuple(PlotPoint(px(x), py(y), r, t) for x, y, r, t in points))
        for i, (name, points) in enumerate(series, start=1)
        if points
    )
    ticks = tuple(Tick(f"{v:g}", px(v), py(v)) for v in (0.0, 0.25, 0.5, 0.75, 1.0))
    return Plot(
        width=right + 14,
        height=bottom + 36,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        ticks=ticks,
        series=drawn,
        x_label=x_label,
        y_label=y_label,
        diagonal=diagonal,
        lines=lines,
    )


def _bin_point(name: str, predicted: float, observed: float, share: float) -> PointSpec:
    radius = 2.5 + 10 * math.sqrt(max(share, 0.0))
    title = f"{name}: predicted {predicted:.2f}, observed {observed:.2f}, {share:.0%} of the weight"
    return predicted, observed, radius, title


def reliability_plot(curves: Sequence[tuple[str, Evaluation | None]]) -> Plot | None:
    """Observed violating share against mean predicted probability per bin; a point's area
    grows with the bin's share of the (propensity-weighted) labels."""
    series = [
        (name, [_bin_point(name, *row) for row in e.reliability] if e else []) for name, e in curves
    ]
    return _plot(
        series,
        x_label="mean predicted probability",
        y_label="observed share violating",
        diagonal=True,
        lines=False,
    )


def pr_plot(curves: Sequence[tuple[str, Evaluation | None]]) -> Plot | None:
    def point(name: str, recall: float, precision: float) -> PointSpec:
        return recall, precision, 2.0, f"{name}: recall {recall:.2f}, precision {precision:.2f}"

    series = [(name, [point(name, *rp) for rp in e.pr_curve] if e else []) for name, e in curves]
    return _plot(series, x_label="recall", y_label="precision", diagonal=False, lines=True)


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
