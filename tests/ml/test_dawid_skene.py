from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from supportability.ml.dawid_skene import CrowdEstimate, dawid_skene

CLASSES = ("none", "gambling", "weapons", "drugs")
PRIOR = np.array([0.85, 0.05, 0.05, 0.05])


def _symmetric(accuracy: float) -> np.ndarray:
    """Right with probability ``accuracy``, otherwise any other class alike."""
    k = len(CLASSES)
    confusion = np.full((k, k), (1 - accuracy) / (k - 1))
    np.fill_diagonal(confusion, accuracy)
    return confusion


def _misses_violations(none_accuracy: float, violation_accuracy: float) -> np.ndarray:
    """One-sided: violators are called "none" when missed; "none" rarely called a violation."""
    k = len(CLASSES)
    confusion = np.zeros((k, k))
    confusion[0] = (1 - none_accuracy) / (k - 1)
    confusion[0, 0] = none_accuracy
    for i in range(1, k):
        confusion[i, i], confusion[i, 0] = violation_accuracy, 1 - violation_accuracy
    return confusion


ANNOTATORS = {
    "ana": _symmetric(0.95),
    "ben": _symmetric(0.85),
    "cai": _symmetric(0.75),
    "dee": _symmetric(0.65),
    "eli": _misses_violations(0.97, 0.5),
    "fay": _misses_violations(0.95, 0.3),
}


@dataclass(frozen=True)
class Crowd:
    truth: np.ndarray  # class index per item
    annotations: list[tuple[int, str, str]]
    gold: dict[int, str]

    def true_accuracy(self, annotator: str) -> float:
        frequencies = np.bincount(self.truth, minlength=len(CLASSES)) / len(self.truth)
        return float(frequencies @ np.diag(ANNOTATORS[annotator]))


def _simulate(seed: int, n_items: int = 2_000, n_gold: int = 100) -> Crowd:
    rng = np.random.default_rng(seed)
    names = list(ANNOTATORS)
    truth = rng.choice(len(CLASSES), size=n_items, p=PRIOR)
    annotations = []
    for item in range(n_items):
        for name in rng.choice(names, size=rng.integers(1, 4), replace=False):
            said = rng.choice(len(CLASSES), p=ANNOTATORS[str(name)][truth[item]])
            annotations.append((item, str(name), CLASSES[said]))
    gold_items = rng.choice(n_items, size=n_gold, replace=False)
    return Crowd(truth, annotations, {int(i): CLASSES[truth[i]] for i in gold_items})


def _majority_vote(annotations: list[tuple[int, str, str]], n_items: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    votes = np.zeros((n_items, len(CLASSES)))
    for item, _, said in annotations:
        votes[item, CLASSES.index(said)] += 1
    ties_broken = votes + rng.random(votes.shape) * 0.5  # ties go to a random class
    return np.asarray(np.argmax(ties_broken, axis=1))


@pytest.fixture(scope="module")
def crowd() -> Crowd:
    return _simulate(seed=0)


@pytest.fixture(scope="module")
def estimate(crowd: Crowd) -> CrowdEstimate:
    return dawid_skene(crowd.annotations, classes=CLASSES, known=crowd.gold)


def test_estimated_accuracies_are_within_five_points_of_the_truth(
    crowd: Crowd, estimate: CrowdEstimate
) -> None:
    errors = {a: estimate.accuracy(a) - crowd.true_accuracy(a) for a in ANNOTATORS}
    assert max(abs(e) for e in errors.values()) <= 0.05, errors


def test_estimated_priors_match_the_class_frequencies(
    crowd: Crowd, estimate: CrowdEstimate
) -> None:
    frequencies = np.bincount(crowd.truth, minlength=len(CLASSES)) / len(crowd.truth)
    np.testing.assert_allclose(estimate.priors, frequencies, atol=0.02)


def test_labels_beat_majority_vote(crowd: Crowd, estimate: CrowdEstimate) -> None:
    unknown = np.array([i for i in range(len(crowd.truth)) if i not in crowd.gold])
    ds = np.array([CLASSES.index(estimate.label(int(i))[0]) for i in unknown])
    mv = _majority_vote(crowd.annotations, len(crowd.truth), seed=1)[unknown]
    ds_accuracy = float(np.mean(ds == crowd.truth[unknown]))
    mv_accuracy = float(np.mean(mv == crowd.truth[unknown]))
    assert ds_accuracy >= mv_accuracy + 0.03, (ds_accuracy, mv_accuracy)


def test_known_items_keep_their_class(crowd: Crowd) -> None:
    item = next(iter(crowd.gold))
    # every annotator says "drugs", but the adjudicated answer is "gambling"
    outvoted = [(item, a, "drugs") for a in ANNOTATORS]
    annotations = [t for t in crowd.annotations if t[0] != item] + outvoted
    result = dawid_skene(annotations, classes=CLASSES, known={**crowd.gold, item: "gambling"})
    assert result.label(item) == ("gambling", 1.0)


def test_known_items_anchor_an_annotators_confusion_matrix() -> None:
    # "zed" only labels gold items, and calls every gambling merchant "none"
    annotations = [(i, "zed", "none") for i in range(40)]
    annotations += [(i, "amy", "gambling" if i < 20 else "none") for i in range(40)]
    known = {i: ("gambling" if i < 20 else "none") for i in range(40)}
    result = dawid_skene(annotations, classes=("none", "gambling"), known=known)
    zed = result.confusions["zed"]
    assert zed[1, 0] > 0.95  # truth gambling -> says none
    assert result.accuracy("zed") == pytest.approx(0.5, abs=0.01)
    assert result.accuracy("amy") == pytest.approx(1.0, abs=0.01)


def test_single_label_is_weighted_by_its_annotators_reliability(crowd: Crowd) -> None:
    by_ana, by_dee = 10_001, 10_002  # each labelled once, by one analyst
    annotations = [
        *crowd.annotations,
        (by_ana, "ana", "gambling"),
        (by_dee, "dee", "gambling"),
    ]
    result = dawid_skene(annotations, classes=CLASSES, known=crowd.gold)
    gambling = CLASSES.index("gambling")
    reliable = result.posteriors[by_ana][gambling]
    unreliable = result.posteriors[by_dee][gambling]
    assert reliable > unreliable
    assert 0.5 < reliable < 1.0
    # an unreliable analyst's lone "gambling" does not beat the 85% prior of "none"
    assert result.label(by_dee)[0] == "none"


def test_annotator_with_few_labels_gets_no_zero_probabilities() -> None:
    annotations = [(i, "many", "none") for i in range(50)] + [(0, "once", "none")]
    result = dawid_skene(annotations, classes=("none", "gambling"))
    assert (result.confusions["once"] > 0).all()
    assert (result.priors > 0).all()


def test_posteriors_are_probabilities(estimate: CrowdEstimate) -> None:
    stacked = np.stack(list(estimate.posteriors.values()))
    assert stacked.shape == (2_000, len(CLASSES))
    np.testing.assert_allclose(stacked.sum(axis=1), 1.0)
    for confusion in estimate.confusions.values():
        np.testing.assert_allclose(confusion.sum(axis=1), 1.0)
    assert 1 < estimate.iterations < 100


def test_no_annotations_are_rejected() -> None:
    with pytest.raises(ValueError, match="no annotations"):
        dawid_skene([])


def test_class_outside_the_given_classes_is_rejected() -> None:
    with pytest.raises(ValueError, match="'drugs'"):
        dawid_skene([(1, "a", "drugs")], classes=("none", "gambling"))
    with pytest.raises(ValueError, match="'weapons'"):
        dawid_skene([(1, "a", "none")], classes=("none",), known={1: "weapons"})


def test_one_class_only_is_certain() -> None:
    result = dawid_skene([(1, "a", "none"), (2, "a", "none"), (2, "b", "none")])
    assert result.classes == ("none",)
    assert result.label(2) == ("none", 1.0)
    assert result.accuracy("b") == pytest.approx(1.0)


def test_classes_default_to_sorted_observed_classes() -> None:
    result = dawid_skene([(1, "a", "weapons"), (1, "b", "gambling"), (2, "a", "none")])
    assert result.classes == ("gambling", "none", "weapons")
