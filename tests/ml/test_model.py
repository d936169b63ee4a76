from __future__ import annotations

import hashlib
import json
import pickle
import re

import numpy as np
import pytest

from supportability.ml.features import NUMERIC_FEATURES, numeric_raw_values, tfidf_transform
from supportability.ml.folds import cross_validation_folds, near_duplicate_key
from supportability.ml.model import (
    ModelLoadError,
    TrainedModel,
    TrainingDataError,
    dump_model,
    load_model,
    load_model_cached,
    sha256_of,
)
from supportability.ml.synthetic import ModelInputs
from supportability.ml.taxonomy import VIOLATION_CATEGORIES
from supportability.ml.training import C_GRID, train_model


def _train(inputs: ModelInputs, *, sample_weight: np.ndarray | None = None) -> TrainedModel:
    return train_model(
        inputs.texts,
        inputs.numeric,
        inputs.decisions,
        inputs.categories,
        sample_weight=sample_weight,
    )


def test_empty_data_is_rejected() -> None:
    with pytest.raises(TrainingDataError, match="no training rows"):
        train_model([], np.empty((0, len(NUMERIC_FEATURES))), [], [])


def test_single_class_data_is_rejected(small_world: ModelInputs) -> None:
    n = 50
    with pytest.raises(TrainingDataError, match="need both supportable and violating"):
        train_model(
            small_world.texts[:n], small_world.numeric[:n], ["supportable"] * n, ["none"] * n
        )


def test_too_few_positives_are_rejected(small_world: ModelInputs) -> None:
    decisions = ["supportable"] * 100
    for i in range(4):
        decisions[i] = "prohibited"
    with pytest.raises(TrainingDataError, match="only 4 violating rows: need at least 5"):
        train_model(small_world.texts[:100], small_world.numeric[:100], decisions, ["none"] * 100)


def test_only_unsure_rows_are_rejected(small_world: ModelInputs) -> None:
    with pytest.raises(TrainingDataError, match="unsure"):
        train_model(small_world.texts[:20], small_world.numeric[:20], ["unsure"] * 20, [""] * 20)


def test_unknown_decisions_are_rejected(small_world: ModelInputs) -> None:
    with pytest.raises(TrainingDataError, match="unknown decisions: 'approved'"):
        train_model(small_world.texts[:2], small_world.numeric[:2], ["approved"] * 2, [""] * 2)


def test_mismatched_lengths_are_rejected(small_world: ModelInputs) -> None:
    with pytest.raises(TrainingDataError, match="differ in length"):
        train_model(small_world.texts[:3], small_world.numeric[:3], ["supportable"] * 2, [""] * 3)


def test_negative_weights_are_rejected(small_world: ModelInputs) -> None:
    weights = np.ones(len(small_world.texts))
    weights[0] = -1.0
    with pytest.raises(TrainingDataError, match="non-negative"):
        _train(small_world, sample_weight=weights)


def test_unsure_rows_are_dropped(small_world: ModelInputs) -> None:
    decisions = list(small_world.decisions)
    decisions[:10] = ["unsure"] * 10
    model = train_model(small_world.texts, small_world.numeric, decisions, small_world.categories)
    assert model.metrics["n_train"] == len(decisions) - 10
    assert model.metrics["n_dropped_unsure"] == 10


def test_metrics_are_json_serialisable_and_complete(small_model: TrainedModel) -> None:
    metrics = json.loads(json.dumps(small_model.metrics))
    for key in ("n_train", "n_positive", "calibration", "cv_log_loss", "brier", "ece"):
        assert key in metrics
    assert 0.5 < metrics["roc_auc"] <= 1.0
    assert 0.0 < metrics["average_precision"] <= 1.0


def test_small_data_is_calibrated_with_sigmoid(small_model: TrainedModel) -> None:
    assert small_model.metrics["calibration"] == "sigmoid"
    assert set(small_model.metrics["cv_log_loss"]) == {"sigmoid"}


def test_isotonic_competes_from_a_thousand_rows(trained: TrainedModel) -> None:
    assert set(trained.metrics["cv_log_loss"]) == {"sigmoid", "isotonic"}
    assert trained.metrics["calibration"] in {"sigmoid", "isotonic"}


def test_predict_matches_predict_proba(small_model: TrainedModel, small_world: ModelInputs) -> None:
    predictions = small_model.predict(small_world.texts[:50], small_world.numeric[:50])
    probabilities = small_model.predict_proba(small_world.texts[:50], small_world.numeric[:50])
    assert probabilities.shape == (50,)
    assert [p.probability for p in predictions] == pytest.approx(probabilities.tolist())
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_category_is_none_below_half_and_a_violation_above(
    small_model: TrainedModel, small_world: ModelInputs
) -> None:
    predictions = small_model.predict(small_world.texts, small_world.numeric)
    assert any(p.probability >= 0.5 for p in predictions)
    for p in predictions:
        if p.probability < 0.5:
            assert p.category == "none"
        else:
            assert p.category in VIOLATION_CATEGORIES


def test_explanation_shape(small_model: TrainedModel, small_world: ModelInputs) -> None:
    prediction = small_model.predict(small_world.texts[:1], small_world.numeric[:1])[0]
    explanation = json.loads(json.dumps(prediction.explanation))
    assert len(explanation["terms"]) <= 6
    names = [name for name, _, _ in explanation["features"]]
    assert sorted(names) == sorted(NUMERIC_FEATURES)
    weights = [abs(weight) for _, _, weight in explanation["features"]]
    assert weights == sorted(weights, reverse=True)


def test_explanation_reports_raw_feature_values(
    small_model: TrainedModel, small_world: ModelInputs
) -> None:
    prediction = small_model.predict(small_world.texts[:1], small_world.numeric[:1])[0]
    raw = dict(zip(NUMERIC_FEATURES, numeric_raw_values(small_world.numeric[:1])[0], strict=True))
    for name, value, _ in prediction.explanation["features"]:
        assert value == pytest.approx(raw[name], rel=1e-3, abs=0.5)


def test_explanation_terms_are_words_of_that_merchant(
    small_model: TrainedModel, small_world: ModelInputs
) -> None:
    predictions = small_model.predict(small_world.texts[:80], small_world.numeric[:80])
    assert any(p.explanation["terms"] for p in predictions)
    for text, prediction in zip(small_world.texts[:80], predictions, strict=True):
        words = set(re.findall(r"\w\w+", text.lower()))
        for term, weight in prediction.explanation["terms"]:
            assert weight > 0
            assert set(term.split()) <= words, (term, text)


def test_empty_input_predicts_nothing(small_model: TrainedModel) -> None:
    empty = np.empty((0, len(NUMERIC_FEATURES)))
    assert small_model.predict([], empty) == []
    assert small_model.predict_proba([], empty).shape == (0,)


def test_numeric_of_the_wrong_shape_is_rejected(small_model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="numeric must have shape"):
        small_model.predict_proba(["a"], np.zeros((1, 3)))


def test_training_is_deterministic_for_a_seed(
    small_model: TrainedModel, small_world: ModelInputs
) -> None:
    again = _train(small_world)
    assert again.predict_proba(small_world.texts, small_world.numeric) == pytest.approx(
        small_model.predict_proba(small_world.texts, small_world.numeric)
    )


def test_unit_weights_change_nothing(small_model: TrainedModel, small_world: ModelInputs) -> None:
    weighted = _train(small_world, sample_weight=np.ones(len(small_world.texts)))
    assert weighted.predict_proba(small_world.texts, small_world.numeric) == pytest.approx(
        small_model.predict_proba(small_world.texts, small_world.numeric), abs=1e-6
    )


def test_violating_rows_without_a_category_still_train(small_world: ModelInputs) -> None:
    model = train_model(
        small_world.texts, small_world.numeric, small_world.decisions, [""] * len(small_world.texts)
    )
    predictions = model.predict(small_world.texts[:100], small_world.numeric[:100])
    assert {p.category for p in predictions} == {"none"}
    assert model.metrics["categories"] == ["none"]


def test_dump_and_load_round_trip(small_model: TrainedModel, small_world: ModelInputs) -> None:
    blob = dump_model(small_model)
    loaded = load_model(blob, expected_sha256=sha256_of(blob))
    texts, numeric = small_world.texts[:100], small_world.numeric[:100]
    assert loaded.predict(texts, numeric) == small_model.predict(texts, numeric)
    assert loaded.metrics == small_model.metrics


def test_sha256_is_stable_for_the_same_bytes(small_model: TrainedModel) -> None:
    blob = dump_model(small_model)
    assert sha256_of(blob) == sha256_of(bytes(blob)) == hashlib.sha256(blob).hexdigest()
    assert sha256_of(blob) != sha256_of(blob + b"\0")


def test_load_refuses_a_blob_that_changed(small_model: TrainedModel) -> None:
    blob = dump_model(small_model)
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_model(blob[:-1] + b"x", expected_sha256=sha256_of(blob))


def test_load_refuses_garbage_and_other_objects() -> None:
    with pytest.raises(ModelLoadError):
        load_model(b"not a model")
    with pytest.raises(ModelLoadError, match="not a TrainedModel"):
        load_model(pickle.dumps({"a": 1}))


# --- the C search and grouped folds ------------------------------------------------------


def test_c_is_chosen_from_the_grid_by_cross_validated_average_precision(
    small_model: TrainedModel,
) -> None:
    grid = small_model.metrics["cv_average_precision_by_C"]
    assert set(grid) == {f"{c:g}" for c in C_GRID}
    assert all(0.0 < ap <= 1.0 for ap in grid.values())
    assert small_model.metrics["C"] in C_GRID
    assert grid[f"{small_model.metrics['C']:g}"] == max(grid.values())
    assert small_model.metrics["C"] == small_model.explainer.C


def test_groups_keep_duplicated_rows_in_one_fold() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(np.int64)
    groups = np.array([f"g{i}" for i in range(400)], dtype=object)
    # Forty merchants each have two near-duplicates (one registered domain).
    for i in range(0, 120, 3):
        groups[i + 1] = groups[i + 2] = groups[i]
        y[i + 1] = y[i + 2] = y[i]
    folds = cross_validation_folds(y, groups=groups, seed=3)
    assert len(folds) == 5
    fold_of: dict[str, int] = {}
    for f, (train, test) in enumerate(folds):
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(y)
        assert y[test].sum() > 0 and (1 - y[test]).sum() > 0  # stratified: both classes
        for i in test:
            assert fold_of.setdefault(str(groups[i]), f) == f, f"group {groups[i]} in two folds"
    assert sorted(np.concatenate([test for _, test in folds])) == list(range(len(y)))


def test_without_groups_duplicates_land_in_different_folds() -> None:
    """The same data without groups: the stratified folds split some duplicate triplets,
    which is what groups prevent (so the test above can fail)."""
    y = np.array([1, 1, 1] * 40 + [0] * 280, dtype=np.int64)
    groups = np.array([f"g{i // 3}" for i in range(120)] + [f"s{i}" for i in range(280)])
    split = cross_validation_folds(y, seed=3)
    kept = cross_validation_folds(y, groups=groups, seed=3)
    assert _groups_split(split, groups) > 0
    assert _groups_split(kept, groups) == 0


def _groups_split(folds: list[tuple[np.ndarray, np.ndarray]], groups: np.ndarray) -> int:
    seen: dict[str, set[int]] = {}
    for f, (_, test) in enumerate(folds):
        for i in test:
            seen.setdefault(str(groups[i]), set()).add(f)
    return sum(len(folds_of) > 1 for folds_of in seen.values())


def test_training_with_groups_records_grouped_folds(small_world: ModelInputs) -> None:
    n = len(small_world.texts)
    groups = np.array([f"g{i // 2}" for i in range(n)])
    model = train_model(
        small_world.texts,
        small_world.numeric,
        small_world.decisions,
        small_world.categories,
        groups=groups,
    )
    assert model.metrics["cv_grouped"] is True
    assert model.metrics["cv_groups"] == n // 2
    assert model.metrics["C"] in C_GRID


def test_too_few_groups_fall_back_to_plain_stratified_folds() -> None:
    y = np.array([1] * 10 + [0] * 40, dtype=np.int64)
    groups = np.array(["violators"] * 10 + [f"m{i}" for i in range(40)])
    folds = cross_validation_folds(y, groups=groups, seed=0)
    assert len(folds) == 5
    assert all(y[test].sum() == 2 for _, test in folds)  # plain stratification


def test_groups_of_the_wrong_length_are_rejected(small_world: ModelInputs) -> None:
    with pytest.raises(TrainingDataError, match="groups must have"):
        train_model(
            small_world.texts,
            small_world.numeric,
            small_world.decisions,
            small_world.categories,
            groups=np.array(["a", "b"]),
        )


@pytest.mark.parametrize(
    ("url", "name", "key"),
    [
        (
            "https://shop.silva-flowers.example/about",
            "Silva Flowers",
            "domain:silva-flowers.example",
        ),
        ("https://www.silva-flowers.example", "Other", "domain:silva-flowers.example"),
        ("http://a.b.example.co.uk/x", "", "domain:example.co.uk"),
        ("silva-flowers.example", "", "domain:silva-flowers.example"),
        ("", "The Silva Flowers Inc.", "name:silva"),
        ("", '"Émile" Bakery', "name:emile"),
        ("", "", ""),
    ],
)
def test_near_duplicate_key(url: str, name: str, key: str) -> None:
    assert near_duplicate_key(url, name) == key


# --- bulk scoring -------------------------------------------------------------------------


def test_tfidf_transform_is_the_vectorizers_transform(
    small_model: TrainedModel, holdout_world: ModelInputs
) -> None:
    texts = [*holdout_world.texts[:300], "", "Ünïcode café, ÇA va? a b c", "<b>x</b> & y"]
    fast = tfidf_transform(small_model.vectorizer, texts)
    slow = small_model.vectorizer.transform(texts)
    assert np.array_equal(fast.indptr, slow.indptr)
    assert np.array_equal(fast.indices, slow.indices)
    assert np.array_equal(fast.data, slow.data)


def test_score_batch_says_what_predict_says(
    small_model: TrainedModel, holdout_world: ModelInputs
) -> None:
    texts, numeric = holdout_world.texts[:400], holdout_world.numeric[:400]
    predictions = small_model.predict(texts, numeric)
    batch = small_model.score_batch(texts, numeric)
    assert batch.probabilities.tolist() == [p.probability for p in predictions]
    assert batch.categories == [p.category for p in predictions]
    # Byte for byte what json.dumps writes for predict's explanation (what the ORM stored).
    assert batch.explanations == [json.dumps(p.explanation) for p in predictions]
    assert any(p.category != "none" for p in predictions)


def test_score_batch_of_a_single_category_model(small_world: ModelInputs) -> None:
    decisions = list(small_world.decisions)
    categories = ["gambling" if d != "supportable" else "none" for d in decisions]
    model = train_model(small_world.texts, small_world.numeric, decisions, categories)
    texts, numeric = small_world.texts[:50], small_world.numeric[:50]
    batch = model.score_batch(texts, numeric)
    predictions = model.predict(texts, numeric)
    assert batch.explanations == [json.dumps(p.explanation) for p in predictions]
    assert batch.categories == [p.category for p in predictions]


def test_score_batch_of_nothing_is_empty(small_model: TrainedModel) -> None:
    batch = small_model.score_batch([], np.empty((0, len(NUMERIC_FEATURES))))
    assert batch.probabilities.shape == (0,) and batch.explanations == []


def test_cached_load_unpickles_a_blob_once(small_model: TrainedModel) -> None:
    blob = dump_model(small_model)
    first = load_model_cached(blob, expected_sha256=sha256_of(blob))
    assert load_model_cached(bytes(blob), expected_sha256=sha256_of(blob)) is first
    with pytest.raises(ModelLoadError, match="SHA-256"):
        load_model_cached(blob[:-1] + b"x", expected_sha256=sha256_of(blob))
