"""What is true among all merchants, estimated honestly from what analysts reviewed.

The queue is not a random sample: the risk and uncertainty strata over-sample what the
model flags. Every draw kept its inclusion probability π, so inverse-propensity
(Horvitz-Thompson) estimates over the champion's sampling rounds are unbiased for the whole
population: prevalence of each decision and category, precision of the flagging threshold
and recall of the model (labeling.estimation). Beside each, the naive share among reviewed
merchants: the figure a dashboard that forgot the sampling would show.

The automation-bias control compares how often analysts agree with the model when they
were shown its score and when it was hidden from them.

A figure that cannot be estimated is a ``Missing`` with the reason in words ("no flagged
merchant reviewed yet"), never a bare dash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Q, Subquery

from labeling import estimation
from labeling.estimation import Estimate, RoundSample
from labeling.models import Draw, Label, SamplingRound
from labeling.services import FLAG_THRESHOLD
from supportability.ml.taxonomy import VIOLATING_DECISIONS
from supportability.models import Decision, ModelVersion, PolicyCategory
from supportability.services import champion

from ..models import CleanLabel

Outcome = Callable[[str, str], bool]  # (decision, category slug) -> counts as 1


@dataclass(frozen=True)
class Missing:
    """A figure there is no evidence for yet, and why (rendered in place of a number)."""

    why: str
    value: None = None
    low: None = None
    high: None = None
    n: int = 0


Figure = Estimate | Missing


@dataclass(frozen=True)
class EstimateRow:
    measure: str
    ipw: Figure
    naive: Figure
    kind: str  # "decision", "category" or "model"


@dataclass(frozen=True)
class Estimates:
    model: ModelVersion | None  # the champion: precision and recall are its
    rounds: int  # every round, for prevalence (it does not depend on the model)
    model_rounds: int  # the champion's rounds, for precision and recall
    drawn: int
    resolved: int
    population: int  # at the latest round
    threshold: float
    labels_computed_at: datetime | None
    rows: list[EstimateRow]


@dataclass(frozen=True)
class _Draw:
    propensity: float
    probability: float  # the model's score at the draw
    flagged: bool
    reused: bool  # reviewed before the round: its label was there, or comes sooner
    decision: str | None  # None: no clean label yet
    category: str


@dataclass(frozen=True)
class _Round:
    model_version_id: int
    population: int
    population_flagged: int
    score_sum: float | None
    flagged_score_sum: float | None
    draws: list[_Draw]


def _rounds() -> list[_Round]:
    """Every round with its draws and their clean labels, oldest first (two queries)."""
    rounds = {
        r["id"]: _Round(
            r["model_version_id"],
            r["population"],
            r["population_flagged"],
            r["score_sum"],
            r["flagged_score_sum"],
            [],
        )
        for r in SamplingRound.objects.order_by("id").values(
            "id",
            "model_version_id",
            "population",
            "population_flagged",
            "score_sum",
            "flagged_score_sum",
        )
    }
    for round_id, propensity, p, flagged, reused, decision, slug in Draw.objects.values_list(
        "sampling_round_id",
        "propensity",
        "probability",
        "flagged",
        "reused",
        "merchant__clean_label__decision",
        "merchant__clean_label__category__slug",
    ):
        rounds[round_id].draws.append(_Draw(propensity, p, flagged, reused, decision, slug or ""))
    return [r for r in rounds.values() if r.draws]


def _samples(
    rounds: list[_Round], outcome: Outcome, *, assisted: bool = False, split: bool = False
) -> list[RoundSample]:
    """Each round's resolved draws, as a Poisson sample. Nonresponse is adjusted within two
    classes: draws of merchants reviewed before the round (their labels are there first)
    and new ones (resolved as analysts work the round, in random order): each resolved
    draw's π is scaled by its class's resolved share. A round with a class nobody resolved
    yet is left out (it would under-count that class).

    `assisted`: the estimate is model-assisted, the weights carrying only the model's
    errors (labeling.estimation); the harness found plain Horvitz-Thompson intervals
    covering 66-81 % of the time under the default mix, the model-assisted hull 97-100 %.
    The prediction is the score (for "violating"), or with `split` (a decision or category
    among violators) the score times the outcome's share among the violators settled in
    the earlier rounds: fixed before the round was drawn, as the estimator needs (the first
    round's is 0: plain weights). Rounds without the score sums (drawn before they were
    kept) count with plain weights."""
    samples = []
    earlier_violators = earlier_outcome = 0
    for r in rounds:
        share = (
            (earlier_outcome / earlier_violators if earlier_violators else 0.0) if split else 1.0
        )
        settled = [d for d in r.draws if d.decision is not None]
        earlier_violators += sum(d.decision in VIOLATING_DECISIONS for d in settled)
        earlier_outcome += sum(
            d.decision in VIOLATING_DECISIONS and outcome(d.decision or "", d.category)
            for d in settled
        )
        # A round drawn before the score sums were kept: plain weights (f = 0, still fixed
        # before its draw, so the sum over rounds stays unbiased).
        with_model = assisted and r.score_sum is not None and r.flagged_score_sum is not None
        scale: dict[bool, float] = {}
        for reused in (True, False):
            cls = [d for d in r.draws if d.reused == reused]
            done = sum(d.decision is not None for d in cls)
            if cls and not done:
                break
            scale[reused] = done / len(cls) if cls else 1.0
        else:
            resolved = [d for d in r.draws if d.decision is not None]
            samples.append(
                RoundSample(
                    y=np.array([outcome(d.decision or "", d.category) for d in resolved], float),
                    inclusion=np.array([d.propensity * scale[d.reused] for d in resolved]),
                    flagged=np.array([d.flagged for d in resolved], dtype=bool),
                    population=r.population,
                    population_flagged=r.population_flagged,
                    prediction=(
                        share * np.array([d.probability for d in resolved]) if with_model else None
                    ),
                    population_prediction=share * (r.score_sum or 0.0) if with_model else None,
                    population_flagged_prediction=(
                        share * (r.flagged_score_sum or 0.0) if with_model else None
                    ),
                )
            )
    return samples


def _row(
    measure: str,
    kind: str,
    samples: list[RoundSample],
    which: str = "prevalence",
    *,
    scope: str = "",
) -> EstimateRow:
    """`scope`: why there are no samples at all, when that is the reason."""
    ipw, naive = {
        "prevalence": (estimation.prevalence, estimation.naive_prevalence),
        "precision": (estimation.precision, estimation.naive_precision),
        "recall": (estimation.recall, estimation.naive_recall),
    }[which]
    weighted, plain = ipw(samples), naive(samples)
    return EstimateRow(
        measure,
        weighted if weighted is not None else Missing(_why(which, samples, scope, weighted=True)),
        plain if plain is not None else Missing(_why(which, samples, scope, weighted=False)),
        kind,
    )


def _why(which: str, samples: list[RoundSample], scope: str, *, weighted: bool) -> str:
    """Why `which` has no estimate from these samples, in words."""
    if not samples:
        return scope or "no sampling round with its draws settled yet"
    reviewed = sum(len(s.y) for s in samples)
    if which == "precision":
        if weighted and not any(s.population_flagged for s in samples):
            return f"no merchant scored {FLAG_THRESHOLD:.2f} or more when its rounds were drawn"
        return f"no flagged merchant reviewed yet ({_count(reviewed, 'merchant')} reviewed)"
    if which == "recall":
        return f"no violating merchant reviewed yet ({_count(reviewed, 'merchant')} reviewed)"
    return "no merchant in its rounds' population" if weighted else "no merchant reviewed yet"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _model_scope(model: ModelVersion | None, rounds: list[_Round], mine: list[_Round]) -> str:
    """Why the champion's precision and recall have no rounds to rest on, if they have none."""
    if model is None:
        return "no champion model yet"
    if not mine:
        earlier = len(rounds)
        return (
            f"needs a sampling round drawn with {model}: {_count(earlier, 'round')} "
            "so far, all with earlier models"
        )
    drawn = sum(len(r.draws) for r in mine)
    settled = sum(d.decision is not None for r in mine for d in r.draws)
    return (
        f"needs a round of {model}'s with its draws settled: {_count(drawn, 'draw')}, "
        f"{settled:,} with a clean label"
    )


# How long a computed set of estimates may be served again (per process) while nothing it
# reads has changed; the fingerprint below changes with any new round, clean label or
# champion, so the figures are never staler than the data, only cheaper.
ESTIMATES_CACHE_SECONDS = 600


def estimates_fingerprint() -> str:
    """What the estimates read, in two queries: the rounds (the newest, and the champion
    beside it) and the clean labels (their count and newest computation)."""
    the_champion = ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).values("id")
    rounds = SamplingRound.objects.aggregate(last=Max("id"), model=Max(Subquery(the_champion[:1])))
    labels = CleanLabel.objects.aggregate(n=Count("id"), at=Max("computed_at"))
    raw = f"{rounds['last']}:{rounds['model']}:{labels['n']}:{labels['at']}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def estimates_cached() -> Estimates:
    """estimates_current(), computed again only when what it reads has changed: the
    lead's overview shows it on every load (it costs about 20 ms on the demo's rounds)."""
    key = f"review:estimates:{estimates_fingerprint()}"
    estimates = cache.get(key)
    if estimates is None:
        estimates = estimates_current()
        cache.set(key, estimates, ESTIMATES_CACHE_SECONDS)
    return estimates


def estimates_current() -> Estimates:
    """Prevalence of each decision and category over every round (what is true does not
    depend on the model that drew it); precision of the flagging threshold and recall over
    the current champion's rounds (they are the champion's). From the clean labels of the
    merchants the rounds drew."""
    model = champion()
    rounds = _rounds()
    mine = [r for r in rounds if model is not None and r.model_version_id == model.pk]
    draws = [d for r in rounds for d in r.draws]
    resolved = [d for d in draws if d.decision is not None]
    rows: list[EstimateRow] = []
    violating = _samples(rounds, _decision_in(VIOLATING_DECISIONS), assisted=True)
    if any(len(sample.y) for sample in violating):
        first = _row("Violating (restricted or prohibited)", "decision", violating)
        # Clean labels are final decisions, so supportable is the complement: its own
        # Horvitz-Thompson total would be far noisier (every draw counts, the audit
        # stratum's with weights 1/π in the hundreds).
        rows.append(first)
        rows.append(
            EstimateRow("Supportable", _complement(first.ipw), _complement(first.naive), "decision")
        )
        for value in (Decision.RESTRICTED, Decision.PROHIBITED):
            outcome = _samples(rounds, _decision_in({value}), assisted=True, split=True)
            rows.append(_row(Decision(value).label, "decision", outcome))
        for slug, name in _categories(resolved):
            outcome = _samples(rounds, _category_is(slug), assisted=True, split=True)
            rows.append(_row(name, "category", outcome))
        model_violating = _samples(mine, _decision_in(VIOLATING_DECISIONS), assisted=True)
        scope = _model_scope(model, rounds, mine)
        rows.append(
            _row(
                f"Precision of flagging (score ≥ {FLAG_THRESHOLD:.2f})",
                "model",
                model_violating,
                "precision",
                scope=scope,
            )
        )
        rows.append(
            _row(
                "Recall of the model (violators it flags)",
                "model",
                model_violating,
                "recall",
                scope=scope,
            )
        )
    return Estimates(
        model=model,
        rounds=len(rounds),
        model_rounds=len(mine),
        drawn=len(draws),
        resolved=len(resolved),
        population=rounds[-1].population if rounds else 0,
        threshold=FLAG_THRESHOLD,
        labels_computed_at=CleanLabel.objects.aggregate(at=Max("computed_at"))["at"],
        rows=rows,
    )


def _decision_in(values: Collection[str]) -> Outcome:
    return lambda decision, category: decision in values


def _category_is(slug: str) -> Outcome:
    return lambda decision, category: category == slug


def _complement(estimate: Figure) -> Figure:
    if isinstance(estimate, Missing):
        return estimate
    return Estimate(1 - estimate.value, 1 - estimate.high, 1 - estimate.low, estimate.n)


def _categories(resolved: list[_Draw]) -> list[tuple[str, str]]:
    slugs = {d.category for d in resolved if d.decision in VIOLATING_DECISIONS}
    return list(
        PolicyCategory.objects.filter(slug__in=slugs).order_by("name").values_list("slug", "name")
    )


@dataclass(frozen=True)
class AutomationBias:
    shown: Figure  # share of labels agreeing with the model's call, score shown
    hidden: Figure  # the same, score hidden
    gap: Figure  # shown minus hidden
    threshold: float


def automation_bias(*, threshold: float = FLAG_THRESHOLD) -> AutomationBias:
    """Agreement with the model's call (flagged at the threshold vs the analyst calling it
    violating) on labels where the score was shown and where it was hidden. If analysts
    lean on the score, agreement is higher when they see it. Only items the sampling rounds
    drew count (the score is hidden on a random share of exactly those: upstream flags, gold
    and older items would make the shown group easier); unsure labels are left out."""
    agree = Q(decision__in=list(VIOLATING_DECISIONS), score_seen__gte=threshold) | Q(
        decision=Decision.SUPPORTABLE, score_seen__lt=threshold
    )
    counts = {
        row["score_hidden"]: (row["agree"], row["n"])
        for row in Label.objects.filter(
            score_seen__isnull=False, item__sampling_round__isnull=False
        )
        .exclude(decision=Decision.UNSURE)
        .values("score_hidden")
        .annotate(n=Count("id"), agree=Count("id", filter=agree))
    }
    shown = counts.get(False, (0, 0))
    hidden = counts.get(True, (0, 0))
    no_shown = Missing("no drawn item labelled with the score shown yet")
    no_hidden = Missing("no drawn item labelled with the score hidden yet")
    gap = estimation.difference(*shown, *hidden)
    return AutomationBias(
        shown=estimation.proportion(*shown) or no_shown,
        hidden=estimation.proportion(*hidden) or no_hidden,
        gap=gap or Missing(f"needs labels both ways: {shown[1]:,} shown, {hidden[1]:,} hidden"),
        threshold=threshold,
    )
