"""Evaluate a model on reviewed merchants without the queue's bias, and gate promotion.

Reviewed merchants are not a random sample: the queue favours high scores. Each reviewed
row carries the probability π with which it was sampled, and every statistic weights it
by 1/π (Hájek: weighted sums divided by weighted counts), which is unbiased for the whole
population where the naive statistics are not. 95% intervals come from a seeded
percentile bootstrap over rows.

Per category c (a slug of ``category_scores``, truth ``true_categories == c``):
``pr_auc`` is the weighted average precision of ``category_scores[c]``, and ``recall`` the
weighted share of c's violators that are flagged (score >= threshold) with c as their
highest category score, i.e. caught and routed to the right policy.

The gate is honest about its evidence: every category among the held-out labels (each
violating policy category, and supportable merchants as one more) needs at least
``MIN_LABELS_PER_CATEGORY`` labels (a default; the caller passes the deployment's
setting). With fewer, its verdict is "not enough evidence", never "passed", and the
candidate waits for a lead like one that failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve

from .calibration import ECE_BINS, expected_calibration_error

MIN_CATEGORY_POSITIVES = 5  # the gate skips categories with fewer violators than this
# Held-out labels each category needs before the gate's verdict means anything: with 30
# labels a proportion's 95% interval is still about ±0.18 wide; with fewer, say so.
MIN_LABELS_PER_CATEGORY = 30
SUPPORTABLE = "none"  # the category slug of supportable merchants
PASSED, FAILED, NOT_ENOUGH_EVIDENCE = "passed", "failed", "not enough evidence"
PR_CURVE_POINTS = 50
_CHUNK_CELLS = 4_000_000  # bootstrap cells per chunk when computing PR-AUC


@dataclass(frozen=True)
class Interval:
    estimate: float | None  # None when undefined (e.g. recall with no violators)
    low: float | None
    high: float | None


@dataclass(frozen=True)
class CategoryEvaluation:
    n: int  # rows whose truth is this category
    recall: Interval
    pr_auc: Interval


@dataclass(frozen=True)
class Evaluation:
    n: int
    positives: float  # weighted positive count
    precision: Interval
    recall: Interval
    pr_auc: Interval
    ece: float
    brier: float
    reliability: list[tuple[float, float, float]]  # (mean predicted, observed, weight share)
    pr_curve: list[tuple[float, float]]  # (recall, precision)
    per_category: dict[str, CategoryEvaluation]

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (tuples become lists, undefined values None)."""
        result = asdict(self)
        result["reliability"] = [list(row) for row in self.reliability]
        result["pr_curve"] = [list(point) for point in self.pr_curve]
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        """Rebuild an ``Evaluation`` from ``as_dict`` output (e.g. read back from JSON)."""
        return cls(
            n=int(data["n"]),
            positives=float(data["positives"]),
            precision=Interval(**data["precision"]),
            recall=Interval(**data["recall"]),
            pr_auc=Interval(**data["pr_auc"]),
            ece=float(data["ece"]),
            brier=float(data["brier"]),
            reliability=[(float(a), float(b), float(c)) for a, b, c in data["reliability"]],
            pr_curve=[(float(r), float(p)) for r, p in data["pr_curve"]],
            per_category={
                slug: CategoryEvaluation(
                    n=int(c["n"]), recall=Interval(**c["recall"]), pr_auc=Interval(**c["pr_auc"])
                )
                for slug, c in data["per_category"].items()
            },
        )


@dataclass(frozen=True)
class Evidence:
    """How many held-out labels the gate had, per category, against its minimum."""

    labels: int
    minimum: int
    per_category: dict[str, int]  # slug -> held-out labels; SUPPORTABLE for supportable

    @property
    def short(self) -> dict[str, int]:
        """The categories below the minimum, fewest first."""
        below = [(n, slug) for slug, n in self.per_category.items() if n < self.minimum]
        return {slug: n for n, slug in sorted(below)}

    @property
    def enough(self) -> bool:
        return self.labels > 0 and bool(self.per_category) and not self.short

    @property
    def summary(self) -> str:
        """E.g. "38 labels, 6 of 7 categories below 30"."""
        labels = f"{self.labels} label{'' if self.labels == 1 else 's'}"
        if not self.per_category:
            return f"{labels}, no category among them"
        total = len(self.per_category)
        noun = "category" if total == 1 else "categories"
        if self.short:
            return f"{labels}, {len(self.short)} of {total} {noun} below {self.minimum}"
        return f"{labels}, every one of {total} {noun} at least {self.minimum}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "minimum": self.minimum,
            "per_category": dict(self.per_category),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(
            labels=int(data["labels"]),
            minimum=int(data["minimum"]),
            per_category={str(k): int(v) for k, v in data["per_category"].items()},
        )


def gate_evidence(
    evaluation: Evaluation | None, *, minimum: int = MIN_LABELS_PER_CATEGORY
) -> Evidence:
    """The held-out labels behind an evaluation, per category: each violating category it
    scored, and the supportable rest (every row not in one of them)."""
    if minimum < 1:
        raise ValueError(f"the minimum of labels per category must be >= 1, got {minimum}")
    if evaluation is None:
        return Evidence(labels=0, minimum=minimum, per_category={})
    counts = {slug: c.n for slug, c in evaluation.per_category.items()}
    rest = evaluation.n - sum(counts.values())
    if rest > 0 or not counts:
        counts[SUPPORTABLE] = max(rest, 0)
    return Evidence(labels=evaluation.n, minimum=minimum, per_category=counts)


def category_words(slug: str) -> str:
    return "supportable" if slug == SUPPORTABLE else slug


@dataclass(frozen=True)
class GateResult:
    """``passed`` is True only for the verdict "passed"; anything else holds the candidate
    for a lead (``held``). ``reasons`` start with the verdict's headline."""

    passed: bool
    reasons: list[str]
    verdict: str = PASSED  # PASSED, FAILED or NOT_ENOUGH_EVIDENCE
    evidence: Evidence | None = None

    @property
    def held(self) -> bool:
        return not self.passed

    def as_dict(self) -> dict[str, Any]:
        """JSON for TrainingRun.gate: ``passed`` and ``reasons`` as before, plus the
        verdict in words and the evidence it rests on."""
        return {
            "passed": self.passed,
            "held": self.held,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "evidence": self.evidence.as_dict() if self.evidence else None,
        }


def evaluate(
    y_true: np.ndarray,
    scores: np.ndarray,
    propensity: np.ndarray,
    *,
    threshold: float = 0.5,
    true_categories: Sequence[str] | None = None,
    category_scores: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> Evaluation:
    """Weighted precision, recall, PR-AUC (with intervals), calibration and per category.

    ``y_true`` is True for violating, ``scores`` the calibrated P(violating), ``propensity``
    each row's sampling probability π in (0, 1]. ``category_scores`` maps slugs to
    P(violating and this category) per row; it needs ``true_categories``.
    """
    y = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    weights = 1.0 / _check(y, scores, np.asarray(propensity, dtype=np.float64))
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    flagged = scores >= threshold
    # resampled row counts, one bootstrap replicate per row of the matrix
    boot = np.random.default_rng(seed).multinomial(len(y), np.full(len(y), 1 / len(y)), n_boot)

    hits = weights * (y & flagged)
    precision = _ratio_interval(hits, weights * flagged, boot)
    recall = _ratio_interval(hits, weights * y, boot)
    pr_auc = _pr_auc_interval(y, scores, weights, boot)

    per_category: dict[str, CategoryEvaluation] = {}
    if category_scores:
        if true_categories is None or len(true_categories) != len(y):
            raise ValueError("category_scores needs true_categories, one per row")
        slugs = sorted(category_scores)
        matrix = np.column_stack([np.asarray(category_scores[c], float) for c in slugs])
        if matrix.shape != (len(y), len(slugs)):
            raise ValueError(f"each of category_scores must have {len(y)} values")
        best = np.argmax(matrix, axis=1)
        truth = np.asarray(true_categories, dtype=object)
        for j, slug in enumerate(slugs):
            is_c = truth == slug
            caught = weights * (is_c & flagged & (best == j))
            per_category[slug] = CategoryEvaluation(
                n=int(is_c.sum()),
                recall=_ratio_interval(caught, weights * is_c, boot),
                pr_auc=_pr_auc_interval(is_c, matrix[:, j], weights, boot),
            )

    return Evaluation(
        n=len(y),
        positives=float(weights[y].sum()),
        precision=precision,
        recall=recall,
        pr_auc=pr_auc,
        ece=expected_calibration_error(y, scores, weights),
        brier=float(brier_score_loss(y, scores, sample_weight=weights, labels=[False, True])),
        reliability=_reliability(y, scores, weights),
        pr_curve=_pr_curve(y, scores, weights),
        per_category=per_category,
    )


def gate(
    candidate: Evaluation,
    champion: Evaluation | None,
    *,
    pr_auc_tolerance: float = 0.02,
    ece_bound: float = 0.10,
    category_tolerance: float = 0.05,
    min_labels_per_category: int | None = None,
) -> GateResult:
    """Promote when the candidate ranks as well as the champion and is calibrated, on
    enough held-out labels to tell.

    Both evaluations must come from the same held-out labels. The checks: the candidate's
    ECE is within ``ece_bound`` and, given a champion, its PR-AUC is no more than
    ``pr_auc_tolerance`` below the champion's and no category's PR-AUC is more than
    ``category_tolerance`` below it (categories with fewer than 5 violators are skipped).
    The verdict is "not enough evidence" when any category (supportable included) has
    fewer than ``min_labels_per_category`` labels (default: the module's
    ``MIN_LABELS_PER_CATEGORY``, read at call time), whatever the checks say (their failures
    are still listed), else "failed" when a check failed, else "passed". ``reasons`` open
    with the verdict's headline and explain every failed or skipped check.
    """
    minimum = (
        MIN_LABELS_PER_CATEGORY if min_labels_per_category is None else min_labels_per_category
    )
    evidence = gate_evidence(candidate, minimum=minimum)
    failures, notes = _checks(
        candidate,
        champion,
        pr_auc_tolerance=pr_auc_tolerance,
        ece_bound=ece_bound,
        category_tolerance=category_tolerance,
    )
    if not evidence.enough:
        short = ", ".join(f"{category_words(s)} {n}" for s, n in evidence.short.items())
        reasons = [f"Not enough evidence: {evidence.summary}."]
        if short:
            reasons.append(
                f"Held-out labels below the minimum of {evidence.minimum}: {short}; "
                "no comparison on so few can be trusted, so a lead decides."
            )
        reasons += [f"On this little evidence: {failure}" for failure in failures]
        return GateResult(False, reasons + notes, NOT_ENOUGH_EVIDENCE, evidence)
    if failures:
        headline = f"Failed on {evidence.summary}."
        return GateResult(False, [headline, *failures, *notes], FAILED, evidence)
    return GateResult(True, [f"Passed on {evidence.summary}.", *notes], PASSED, evidence)


def _checks(
    candidate: Evaluation,
    champion: Evaluation | None,
    *,
    pr_auc_tolerance: float,
    ece_bound: float,
    category_tolerance: float,
) -> tuple[list[str], list[str]]:
    """(failures, notes) of the gate's comparisons."""
    failures: list[str] = []
    notes: list[str] = []
    if candidate.ece > ece_bound:
        failures.append(
            f"Calibration: the candidate's expected calibration error is {candidate.ece:.3f}, "
            f"above the bound of {ece_bound:.3f}; its probabilities cannot be trusted."
        )
    if champion is None:
        notes.append("No champion to compare with: only the calibration check applies.")
        return failures, notes

    new, old = candidate.pr_auc.estimate, champion.pr_auc.estimate
    if new is None or old is None:
        failures.append(
            "PR-AUC: the evaluation labels hold no violating merchants, so the candidate "
            "cannot be compared with the champion."
        )
    elif new < old - pr_auc_tolerance:
        failures.append(
            f"PR-AUC: the candidate's is {new:.3f}, below the champion's {old:.3f} by "
            f"{old - new:.3f} (tolerance {pr_auc_tolerance:.3f})."
        )
    for slug, before in sorted(champion.per_category.items()):
        after = candidate.per_category.get(slug)
        violators = min(before.n, after.n) if after else before.n
        if violators < MIN_CATEGORY_POSITIVES:
            notes.append(
                f"Category '{slug}' not compared: only {violators} violating merchants in the "
                f"evaluation labels (need {MIN_CATEGORY_POSITIVES})."
            )
        elif after is None or after.pr_auc.estimate is None:
            failures.append(f"Category '{slug}': the candidate gives no score for it.")
        elif before.pr_auc.estimate is not None and (
            after.pr_auc.estimate < before.pr_auc.estimate - category_tolerance
        ):
            failures.append(
                f"Category '{slug}': PR-AUC fell from {before.pr_auc.estimate:.3f} to "
                f"{after.pr_auc.estimate:.3f}, more than the tolerance of "
                f"{category_tolerance:.3f}."
            )
    return failures, notes


def _check(y: np.ndarray, scores: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    n = len(y)
    if n == 0:
        raise ValueError("nothing to evaluate: no rows")
    if y.shape != (n,) or scores.shape != (n,) or propensity.shape != (n,):
        raise ValueError(
            f"y_true, scores and propensity must be 1-d of one length, got "
            f"{y.shape}, {scores.shape}, {propensity.shape}"
        )
    if not (np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()):
        raise ValueError("scores must be probabilities in [0, 1]")
    if not (np.isfinite(propensity).all() and ((propensity > 0) & (propensity <= 1)).all()):
        raise ValueError("propensity must be in (0, 1]: every reviewed row needs π > 0")
    return propensity


def _ratio_interval(numerator: np.ndarray, denominator: np.ndarray, boot: np.ndarray) -> Interval:
    """Σ numerator / Σ denominator, with the ratio over bootstrap replicates."""
    total = float(denominator.sum())
    estimate = float(numerator.sum()) / total if total > 0 else None
    tops, bottoms = boot @ numerator, boot @ denominator
    replicates = tops[bottoms > 0] / bottoms[bottoms > 0]
    return _percentiles(estimate, replicates)


def _pr_auc_interval(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray, boot: np.ndarray
) -> Interval:
    estimate = None
    if (weights * y).any():
        estimate = float(average_precision_score(y, scores, sample_weight=weights))
    # bounded memory: a few million cells per chunk of replicates
    chunks = np.array_split(boot, boot.size // _CHUNK_CELLS + 1)
    replicates = np.concatenate([_average_precisions(y, scores, weights * c) for c in chunks])
    return _percentiles(estimate, replicates[np.isfinite(replicates)])


def _average_precisions(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``average_precision_score`` for each row of a ``(m, n)`` weight matrix, vectorised.

    NaN for a row without positive weight on a violator.
    """
    order = np.argsort(-scores, kind="stable")
    positive = y[order]
    w = weights[:, order]
    # cumulative weighted true and false positives at each distinct threshold
    last = np.r_[np.flatnonzero(np.diff(scores[order])), len(order) - 1]
    tp = np.cumsum(w * positive, axis=1)[:, last]
    fp = np.cumsum(w * ~positive, axis=1)[:, last]
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    gained = np.diff(tp, axis=1, prepend=0.0) * precision
    total = tp[:, -1]
    return np.divide(gained.sum(axis=1), total, out=np.full_like(total, np.nan), where=total > 0)


def _percentiles(estimate: float | None, replicates: np.ndarray) -> Interval:
    if estimate is None or len(replicates) == 0:
        return Interval(estimate, None, None)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return Interval(estimate, float(low), float(high))


def _reliability(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> list[tuple[float, float, float]]:
    """Per non-empty bin of ``ECE_BINS`` equal-width bins, as calibration.py bins them."""
    index = np.minimum((scores * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    mass = np.bincount(index, weights=weights, minlength=ECE_BINS)
    predicted = np.bincount(index, weights=weights * scores, minlength=ECE_BINS)
    observed = np.bincount(index, weights=weights * y, minlength=ECE_BINS)
    return [
        (float(predicted[b] / mass[b]), float(observed[b] / mass[b]), float(mass[b] / mass.sum()))
        for b in range(ECE_BINS)
        if mass[b] > 0
    ]


def _pr_curve(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> list[tuple[float, float]]:
    """Up to ``PR_CURVE_POINTS`` (recall, precision) points, by increasing recall."""
    if not y.any():
        return []
    precision, recall, _ = precision_recall_curve(y, scores, sample_weight=weights)
    order = np.argsort(recall, kind="stable")
    keep = np.unique(np.linspace(0, len(order) - 1, PR_CURVE_POINTS).round().astype(np.int64))
    return [(float(recall[order[i]]), float(precision[order[i]])) for i in keep]
