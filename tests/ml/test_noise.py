from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from supportability.ml.noise import label_issues, out_of_fold_probabilities
from supportability.ml.synthetic import generate_merchants, model_inputs


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    numeric: np.ndarray
    y: np.ndarray


@pytest.fixture(scope="module")
def separable() -> Labelled:
    """Synthetic merchants a model can tell apart.

    The synthetic world overlaps on purpose (bland violators look supportable), so keep
    the rows that an out-of-fold model trained on the true labels gets right: then the
    injected flips are the only label errors left.
    """
    world = model_inputs(generate_merchants(1_500, seed=12, prevalence=0.3))
    y = world.violating
    probabilities = out_of_fold_probabilities(world.texts, world.numeric, y, seed=0)
    keep = (probabilities[:, 1] >= 0.5) == (y == 1)
    texts = [t for t, k in zip(world.texts, keep, strict=True) if k]
    return Labelled(texts, world.numeric[keep], y[keep])


def _flip(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    flipped = np.random.default_rng(seed).random(len(y)) < share
    return np.where(flipped, 1 - y, y), flipped


def test_flags_most_injected_uniform_flips(separable: Labelled) -> None:
    noisy, flipped = _flip(separable.y, 0.10, seed=0)
    probabilities = out_of_fold_probabilities(separable.texts, separable.numeric, noisy, seed=0)
    flagged = label_issues(noisy, probabilities)
    hits = int((flagged & flipped).sum())
    precision, recall = hits / flagged.sum(), hits / flipped.sum()
    assert precision >= 0.7, (precision, recall)
    assert recall >= 0.4, (precision, recall)


def test_probabilities_are_two_columns_summing_to_one(separable: Labelled) -> None:
    n = 300
    probabilities = out_of_fold_probabilities(
        separable.texts[:n], separable.numeric[:n], separable.y[:n], folds=3, seed=1
    )
    assert probabilities.shape == (n, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    again = out_of_fold_probabilities(
        separable.texts[:n], separable.numeric[:n], separable.y[:n], folds=3, seed=1
    )
    np.testing.assert_array_equal(probabilities, again)


def test_a_row_is_never_scored_by_a_model_that_saw_its_group(separable: Labelled) -> None:
    # Mislabel 40 rows and append four exact copies of each. Without groups the copies
    # land in other folds, so the model that scores a row has learnt its copies' wrong
    # label; grouped with its copies, the row is scored by a model that saw none of them.
    n = len(separable.y)
    rows = np.random.default_rng(3).choice(n, size=40, replace=False)
    copies = np.tile(rows, 4)
    y = separable.y.copy()
    y[rows] = 1 - y[rows]
    texts = separable.texts + [separable.texts[i] for i in copies]
    numeric = np.vstack([separable.numeric, separable.numeric[copies]])
    y = np.concatenate([y, y[copies]])
    groups = np.concatenate([np.arange(n), copies])

    def given_label_probability(probabilities: np.ndarray) -> np.ndarray:
        return probabilities[rows, y[rows]]

    grouped = given_label_probability(out_of_fold_probabilities(texts, numeric, y, groups=groups))
    leaky = given_label_probability(out_of_fold_probabilities(texts, numeric, y))
    assert grouped.mean() < 0.3, grouped.mean()
    assert leaky.mean() > grouped.mean() + 0.15, (leaky.mean(), grouped.mean())
    assert (leaky > grouped).mean() >= 0.9


def test_labels_must_be_zero_or_one(separable: Labelled) -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        out_of_fold_probabilities(separable.texts[:10], separable.numeric[:10], np.full(10, 2))


def test_too_few_rows_of_a_class_are_rejected(separable: Labelled) -> None:
    y = np.zeros(20, dtype=int)
    y[0] = 1
    with pytest.raises(ValueError, match="at least 2 rows of each class"):
        out_of_fold_probabilities(separable.texts[:20], separable.numeric[:20], y)


def test_fewer_groups_than_folds_are_rejected(separable: Labelled) -> None:
    n = 40
    with pytest.raises(ValueError, match="only 3 groups"):
        out_of_fold_probabilities(
            separable.texts[:n], separable.numeric[:n], separable.y[:n], groups=np.arange(n) % 3
        )


def test_label_issues_checks_shapes() -> None:
    with pytest.raises(ValueError, match="must be"):
        label_issues(np.zeros(3, dtype=int), np.full((4, 2), 0.5))
    assert label_issues(np.zeros(0, dtype=int), np.zeros((0, 2))).shape == (0,)
