"""How well the model does on the synthetic world: good, calibrated, and not perfect
(the world is built so that text and numbers overlap between the classes)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from supportability.ml.calibration import expected_calibration_error
from supportability.ml.model import TrainedModel
from supportability.ml.synthetic import ModelInputs


def test_held_out_auc_is_high_but_not_perfect(
    trained: TrainedModel, holdout_world: ModelInputs
) -> None:
    probabilities = trained.predict_proba(holdout_world.texts, holdout_world.numeric)
    auc = roc_auc_score(holdout_world.violating, probabilities)
    assert 0.85 < auc < 0.999


def test_held_out_probabilities_are_calibrated(
    trained: TrainedModel, holdout_world: ModelInputs
) -> None:
    probabilities = trained.predict_proba(holdout_world.texts, holdout_world.numeric)
    y = holdout_world.violating
    assert abs(probabilities.mean() - y.mean()) < 0.03
    assert expected_calibration_error(y, probabilities) < 0.05


def test_out_of_fold_metrics_agree_with_held_out(trained: TrainedModel) -> None:
    assert 0.85 < trained.metrics["roc_auc"] < 0.999
    assert trained.metrics["ece"] < 0.05


def test_flagged_violators_mostly_get_the_right_category(
    trained: TrainedModel, holdout_world: ModelInputs
) -> None:
    predictions = trained.predict(holdout_world.texts, holdout_world.numeric)
    flagged = [
        (p.category, truth)
        for p, truth in zip(predictions, holdout_world.categories, strict=True)
        if p.category != "none" and truth != "none"
    ]
    assert len(flagged) > 20
    assert np.mean([c == t for c, t in flagged]) > 0.6
