"""One offline run of the review loop: a model trained on the labels so far scores the pool,
a strategy picks the next round's reviews, simulated analysts return the true label, repeat.

`simulate` is the function to plug any data into: features, 0/1 labels (1 = violating),
optionally exposure and near-duplicate groups. The default mix and the bandit go through
`labeling.strategies.strategy_weights` and `round_draw`, exactly what the live queue calls;
their rounds are kept as `labeling.estimation.RoundSample`s, so the run also says what the
honest (Horvitz-Thompson) and the naive estimates of prevalence were after each round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from labeling import estimation, strategies

STRATEGY_NAMES = ("random", "uncertainty", "risk", "mix", "bandit")
THRESHOLD = 0.5  # the model flags a merchant at p >= THRESHOLD


@dataclass
class RunResult:
    strategy: str
    seed: int
    labels: list[int] = field(default_factory=list)  # labels held after each round
    pr_auc: list[float] = field(default_factory=list)  # held-out PR-AUC after each round
    reviewed: list[int] = field(default_factory=list)  # y of each review, in review order
    # After each round: labels held, and the prevalence estimates (value, low, high) from the
    # Poisson rounds so far (Horvitz-Thompson; NaN for the top-k strategies) and from the
    # reviews so far (naive: unweighted share, each reviewed merchant once).
    estimated_at: list[int] = field(default_factory=list)
    prevalence: list[tuple[float, float, float]] = field(default_factory=list)
    naive: list[tuple[float, float, float]] = field(default_factory=list)
    # ... and from the same rounds with the model's predictions: the model-assisted value
    # with the hull of its interval and the plain one (what `estimation` returns for them).
    assisted: list[tuple[float, float, float]] = field(default_factory=list)
    # Recall after each round, with and without predictions, and the recall it estimates
    # (flagged violators over violators, summed over the Poisson rounds so far).
    recall: list[tuple[float, float, float]] = field(default_factory=list)
    recall_plain: list[tuple[float, float, float]] = field(default_factory=list)
    recall_truth: list[float] = field(default_factory=list)
    shares: list[dict[str, float]] = field(default_factory=list)  # per round (mix, bandit)
    truth: float = float("nan")  # prevalence in the pool
    full_pr_auc: float = float("nan")  # PR-AUC of the model trained on every pool label

    def labels_to_reach(self, target: float) -> int | None:
        """Labels held when held-out PR-AUC first reached `target`; None if never."""
        for labels, value in zip(self.labels, self.pr_auc, strict=True):
            if value >= target:
                return labels
        return None

    def found(self, reviews: int) -> int:
        """Violations among the first `reviews` reviews."""
        return int(sum(self.reviewed[:reviews]))


def split(y: np.ndarray, *, seed: int, test_size: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """(pool, test) row indices: a stratified held-out split."""
    rows = np.arange(len(y))
    pool, test = train_test_split(rows, test_size=test_size, stratify=y, random_state=seed)
    return np.sort(pool), np.sort(test)


def fit_predict(
    X: np.ndarray | sp.csr_matrix, y: np.ndarray, train: np.ndarray, *, C: float = 1.0
) -> LogisticRegression:
    """The harness's model: an L2 logistic regression on the (already scaled) features. Not
    recalibrated: on a few hundred labels post-hoc calibration made scores worse (DESIGN)."""
    with threadpool_limits(1):
        return LogisticRegression(C=C, solver="liblinear").fit(X[train], y[train])


def full_data_pr_auc(X: np.ndarray | sp.csr_matrix, y: np.ndarray, *, seed: int) -> float:
    """Held-out PR-AUC of the model trained on every label of the pool."""
    pool, test = split(y, seed=seed)
    model = fit_predict(X, y, pool)
    return float(average_precision_score(y[test], model.predict_proba(X[test])[:, 1]))


def simulate(
    X: np.ndarray | sp.csr_matrix,
    y: np.ndarray,
    *,
    strategy: str,
    seed: int,
    volume: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    batch: int = 20,
    budget: int = 1_000,
    seed_labels: int = 10,
    shares: Mapping[str, float] | None = None,
    evaluate: bool = True,
    full_pr_auc: float | None = None,
    estimate_until: int | None = None,
) -> RunResult:
    """Run the loop once on `X`, `y` (1 = violating) and return what happened.

    A stratified quarter of the rows is held out for PR-AUC; the rest is the pool the queue
    samples from. The run starts from `seed_labels` uniformly random labels (plus, if one
    class is missing, one random row of it, as a historical decision would supply), then
    each round retrains the model on all labels, scores the pool, and `strategy` picks about
    `batch` reviews, until `budget` labels are held:

    - "random": uniform Poisson sampling (the audit stratum alone);
    - "uncertainty": the `batch` unlabelled rows of highest margin uncertainty (top-k);
    - "risk": the `batch` unlabelled rows of highest risk weight (top-k);
    - "mix": `round_draw` on `strategy_weights` with `shares` (default DEFAULT_SHARES);
    - "bandit": the same with `bandit_shares(DEFAULT_SHARES, ...)`, rewarded by the
      violations each arm's draws found.

    Simulated analysts return the true label. A Poisson round also redraws labelled rows at
    no cost (their labels are reused), so each round is a sample of the whole pool and its
    Horvitz-Thompson estimate is unbiased. `volume` is the exposure of the risk strategy
    (None: risk = p), `groups` the near-duplicate groups of the diversity strategy.
    `evaluate=False` skips the held-out PR-AUC (for the coverage replications);
    `estimate_until` stops computing the estimates after that many labels (they cost time
    quadratic in the rounds).
    """
    if strategy not in STRATEGY_NAMES:
        raise ValueError(f"unknown strategy {strategy!r}: choose from {STRATEGY_NAMES}")
    y = np.asarray(y, dtype=np.int64)
    pool, test = split(y, seed=seed)
    rng = np.random.default_rng(seed)
    y_pool = y[pool]
    n = len(pool)
    result = RunResult(strategy=strategy, seed=seed, truth=float(y_pool.mean()))
    if evaluate:
        result.full_pr_auc = (
            full_pr_auc if full_pr_auc is not None else full_data_pr_auc(X, y, seed=seed)
        )
    volume_pool = None if volume is None else np.asarray(volume)[pool]
    groups_pool = None if groups is None else np.asarray(groups)[pool]
    mix = dict(strategies.DEFAULT_SHARES if shares is None else shares)

    labelled = np.zeros(n, dtype=bool)
    first = rng.choice(n, size=min(seed_labels, n), replace=False)
    labelled[first] = True
    result.reviewed.extend(int(v) for v in y_pool[first])
    for cls in (0, 1):
        if not (y_pool[labelled] == cls).any():
            extra = int(rng.choice(np.flatnonzero(y_pool == cls)))
            labelled[extra] = True
            result.reviewed.append(cls)

    rounds: list[estimation.RoundSample] = []
    flagged_violators = violators = 0  # summed over the Poisson rounds: recall's estimand
    assisted_rounds: list[estimation.RoundSample] = []
    naive_rounds: list[estimation.RoundSample] = []
    successes = {"risk": 0.0, "uncertainty": 0.0}
    failures = {"risk": 0.0, "uncertainty": 0.0}
    X_pool = X[pool]
    while True:
        model = fit_predict(X_pool, y_pool, np.flatnonzero(labelled))
        p = model.predict_proba(X_pool)[:, 1]
        result.labels.append(int(labelled.sum()))
        if evaluate:
            scores = model.predict_proba(X[test])[:, 1]
            result.pr_auc.append(float(average_precision_score(y[test], scores)))
        if labelled.sum() >= min(budget, n):
            break
        weights = strategies.strategy_weights(p, volume_pool, groups_pool)
        if strategy in ("uncertainty", "risk"):
            # Top-k on the unsharpened scores: risk(p, volume) (p without volumes), margin.
            score = (
                strategies.margin_uncertainty(p)
                if strategy == "uncertainty"
                else p
                if volume_pool is None
                else strategies.risk(p, volume_pool)
            )
            score = score.copy()
            score[labelled] = -np.inf
            new = np.argsort(-score, kind="stable")[: min(batch, n - int(labelled.sum()))]
        else:
            if strategy == "random":
                round_shares = {"audit": 1.0}
            elif strategy == "bandit":
                round_shares = strategies.bandit_shares(
                    strategies.DEFAULT_SHARES,
                    successes,
                    failures,
                    audit_floor=strategies.DEFAULT_SHARES["audit"],
                    rng=rng,
                )
            else:
                round_shares = mix
            result.shares.append(dict(round_shares))
            draw = strategies.round_draw(weights, round_shares, batch, rng=rng, free=labelled)
            fresh = ~labelled[draw.index]
            flagged = p >= THRESHOLD
            rounds.append(
                estimation.RoundSample(
                    y=y_pool[draw.index],
                    inclusion=draw.inclusion,
                    flagged=flagged[draw.index],
                    population=n,
                    population_flagged=int(flagged.sum()),
                )
            )
            assisted_rounds.append(
                dataclasses.replace(
                    rounds[-1],
                    prediction=p[draw.index],
                    population_prediction=float(p.sum()),
                    population_flagged_prediction=float(p[flagged].sum()),
                )
            )
            for arm in successes:
                if arm in draw.fired:
                    chose = draw.fired[arm] & fresh
                    successes[arm] += float(y_pool[draw.index[chose]].sum())
                    failures[arm] += float((1 - y_pool[draw.index[chose]]).sum())
            new = draw.index[fresh]
            # The live queue serves a round's items by priority: the riskiest first.
            new = new[np.argsort(-weights["risk"][new], kind="stable")]
        labelled[new] = True
        result.reviewed.extend(int(v) for v in y_pool[new])
        naive_rounds.append(
            estimation.RoundSample(
                y=y_pool[new],
                inclusion=np.ones(len(new)),
                flagged=p[new] >= THRESHOLD,
                population=n,
                population_flagged=0,
            )
        )
        if estimate_until is not None and result.estimated_at[-1:] >= [estimate_until]:
            continue  # the round that reached `estimate_until` labels was the last one
        result.estimated_at.append(int(labelled.sum()))
        result.naive.append(_triple(estimation.naive_prevalence(naive_rounds)))
        result.prevalence.append(_triple(estimation.prevalence(rounds)))
        result.assisted.append(_triple(estimation.prevalence(assisted_rounds)))
        if rounds:
            flagged_violators += int((flagged & (y_pool == 1)).sum())
            violators += int(y_pool.sum())
            result.recall_truth.append(flagged_violators / max(violators, 1))
        else:
            result.recall_truth.append(float("nan"))
        result.recall.append(_triple(estimation.recall(assisted_rounds)))
        result.recall_plain.append(_triple(estimation.recall(rounds)))
    return result


def _triple(estimate: estimation.Estimate | None) -> tuple[float, float, float]:
    if estimate is None:
        return (float("nan"),) * 3
    return (estimate.value, estimate.low, estimate.high)
