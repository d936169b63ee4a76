"""Dawid-Skene: estimate each item's true class and each annotator's confusion matrix.

EM over the classic model: an item's true class is drawn from ``priors``; each annotator
reports class j for an item of true class i with probability ``confusion[i, j]``,
independently of the others. It starts from a soft majority vote, clamps items whose answer
is known (gold, adjudicated) to that answer in every E-step, so that they anchor each
annotator's confusion matrix, and adds ``smoothing`` pseudo-counts to every cell so that
rare classes and annotators with few labels never get a zero probability.

Why not crowd-kit (Toloka)? Its ``DawidSkene`` can clamp gold items, but crowd-kit 1.4.2
requires ``transformers``, ``nltk``, ``pyarrow`` and ``pandas`` unconditionally: far too
heavy for what is about 80 lines of numpy here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import scipy.sparse as sp

_TINY = 1e-300  # keeps log() finite

# Item and annotator ids: any hashable (a TypeVar, so that dict[int, str] fits `known`)
Item = TypeVar("Item", bound=Hashable)
Annotator = TypeVar("Annotator", bound=Hashable)
_Key = TypeVar("_Key", bound=Hashable)


@dataclass(frozen=True)
class CrowdEstimate(Generic[Item, Annotator]):
    classes: tuple[str, ...]
    priors: np.ndarray  # (K,)
    posteriors: dict[Item, np.ndarray]  # item -> (K,) P(true class), annotated items only
    confusions: dict[Annotator, np.ndarray]  # annotator -> (K, K), row i: P(says j | truth i)
    iterations: int

    def label(self, item: Item) -> tuple[str, float]:
        """The likeliest class of ``item`` and its posterior probability."""
        posterior = self.posteriors[item]
        best = int(np.argmax(posterior))
        return self.classes[best], float(posterior[best])

    def accuracy(self, annotator: Annotator) -> float:
        """Expected share of correct labels on a random item: sum_i priors[i] * confusion[i, i]."""
        return float(self.priors @ np.diag(self.confusions[annotator]))


def dawid_skene(
    annotations: Iterable[tuple[Item, Annotator, str]],
    *,
    classes: Sequence[str] | None = None,
    known: Mapping[Item, str] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> CrowdEstimate[Item, Annotator]:
    """Fit Dawid-Skene to ``(item, annotator, class)`` triples.

    ``classes`` fixes the class order (default: sorted classes seen in the annotations and
    in ``known``). ``known`` maps items to their true class; items in it without any
    annotation are ignored. An annotator who labels the same item twice counts twice.
    Stops when the mean log-likelihood per item gains less than ``tol`` in an EM round,
    or after ``max_iter`` rounds.
    Raises ``ValueError`` on no annotations or a class outside ``classes``.
    """
    triples = list(annotations)
    if not triples:
        raise ValueError("no annotations: nothing to estimate")
    if smoothing < 0 or max_iter < 1:
        raise ValueError("smoothing must be >= 0 and max_iter >= 1")
    known = dict(known or {})
    class_names = _class_names(triples, known, classes)
    class_index = {c: k for k, c in enumerate(class_names)}
    items, item_idx = _index([t[0] for t in triples])
    annotators, annotator_idx = _index([t[1] for t in triples])
    label_idx = np.array([class_index[t[2]] for t in triples], dtype=np.int64)
    n_items, n_annotators, n_classes = len(items), len(annotators), len(class_names)

    # counts[item, annotator * K + j]: how often this annotator said class j for this item
    counts = sp.csr_matrix(
        (np.ones(len(triples)), (item_idx, annotator_idx * n_classes + label_idx)),
        shape=(n_items, n_annotators * n_classes),
    )
    position = {item: i for i, item in enumerate(items)}
    clamped_rows = np.array([position[i] for i in known if i in position], dtype=np.int64)
    clamped = np.zeros((len(clamped_rows), n_classes))
    clamped[np.arange(len(clamped_rows)), [class_index[known[items[r]]] for r in clamped_rows]] = 1

    # soft majority vote: each item's share of labels per class
    votes = np.zeros((n_items, n_classes))
    np.add.at(votes, (item_idx, label_idx), 1.0)
    posteriors = votes / votes.sum(axis=1, keepdims=True)
    posteriors[clamped_rows] = clamped

    iterations, previous = 0, -np.inf
    while iterations < max_iter:
        iterations += 1
        priors, confusion = _m_step(counts, posteriors, n_annotators, n_classes, smoothing)
        log_joint = _log_joint(counts, priors, confusion)
        posteriors = _normalise(log_joint)
        posteriors[clamped_rows] = clamped
        # mean log-likelihood per item of the labels (and of the known answers)
        per_item = np.logaddexp.reduce(log_joint, axis=1)
        per_item[clamped_rows] = (log_joint[clamped_rows] * clamped).sum(axis=1)
        objective = float(per_item.mean())
        if objective - previous < tol:
            break
        previous = objective
    priors, confusion = _m_step(counts, posteriors, n_annotators, n_classes, smoothing)
    return CrowdEstimate(
        classes=class_names,
        priors=priors,
        posteriors={item: posteriors[i] for i, item in enumerate(items)},
        confusions={a: confusion[j] for j, a in enumerate(annotators)},
        iterations=iterations,
    )


def _m_step(
    counts: sp.csr_matrix,
    posteriors: np.ndarray,
    n_annotators: int,
    n_classes: int,
    smoothing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Priors (K,) and confusion matrices (A, K, K) from soft true-class assignments."""
    priors = posteriors.sum(axis=0) + smoothing
    priors /= priors.sum()
    # (A*K_said, K_true) -> (A, K_true, K_said)
    said = np.asarray(counts.T @ posteriors).reshape(n_annotators, n_classes, n_classes)
    confusion = said.transpose(0, 2, 1) + smoothing
    totals = confusion.sum(axis=2, keepdims=True)
    # a row with no mass at all (smoothing 0, never saw that true class) becomes uniform
    confusion = np.divide(
        confusion, totals, out=np.full_like(confusion, 1.0 / n_classes), where=totals > 0
    )
    return priors, confusion


def _log_joint(counts: sp.csr_matrix, priors: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """log P(true class i, the item's labels) per item and class, shape (n, K)."""
    n_annotators, n_classes, _ = confusion.shape
    # log_likelihood[a * K + j, i] = log P(annotator a says j | truth i)
    log_likelihood = np.log(np.maximum(confusion, _TINY)).transpose(0, 2, 1)
    log_likelihood = log_likelihood.reshape(n_annotators * n_classes, n_classes)
    return np.log(np.maximum(priors, _TINY)) + np.asarray(counts @ log_likelihood)


def _normalise(log_joint: np.ndarray) -> np.ndarray:
    """Posterior P(true class | labels) from the log joint, row by row."""
    posterior = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    return np.asarray(posterior / posterior.sum(axis=1, keepdims=True))


def _class_names(
    triples: Sequence[tuple[Hashable, Hashable, str]],
    known: Mapping[Item, str],
    classes: Sequence[str] | None,
) -> tuple[str, ...]:
    seen = {t[2] for t in triples} | set(known.values())
    if classes is None:
        return tuple(sorted(seen))
    names = tuple(classes)
    if len(set(names)) != len(names) or not names:
        raise ValueError("classes must be non-empty and distinct")
    unknown = sorted(seen - set(names))
    if unknown:
        raise ValueError(f"classes outside {list(names)}: {', '.join(map(repr, unknown))}")
    return names


def _index(values: Sequence[_Key]) -> tuple[list[_Key], np.ndarray]:
    """Distinct values in first-seen order, and each value's position among them."""
    position: dict[_Key, int] = {}
    indices = np.array([position.setdefault(v, len(position)) for v in values], dtype=np.int64)
    return list(position), indices
