"""Measure training time and held-out quality on the synthetic world.

    python bench/ml_model.py --sizes 1000 5000 --holdout 2000

Prints one JSON object per training size. Timings live here, never in test assertions.

`--smoke`: 300 training rows, 200 held out; fails unless the model ranks the held-out
violators better than chance.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module (which scikit-learn imports through joblib):
# put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from bench import smoke
from supportability.ml.calibration import expected_calibration_error
from supportability.ml.synthetic import generate_merchants, model_inputs
from supportability.ml.training import train_model

SMOKE = {"sizes": [300], "holdout": 200}


def benchmark(size: int, *, holdout: int, seed: int = 1) -> dict[str, object]:
    train = model_inputs(generate_merchants(size, seed=seed))
    test = model_inputs(generate_merchants(holdout, seed=seed + 1000))
    started = time.perf_counter()
    model = train_model(train.texts, train.numeric, train.decisions, train.categories, seed=seed)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predictions = model.predict(test.texts, test.numeric)
    predict_seconds = time.perf_counter() - started
    probabilities = np.array([p.probability for p in predictions])
    y = test.violating
    return {
        "n_train": size,
        "n_holdout": holdout,
        "train_seconds": round(train_seconds, 2),
        "predict_seconds": round(predict_seconds, 2),
        "calibration": model.metrics["calibration"],
        "oof_roc_auc": model.metrics["roc_auc"],
        "holdout_roc_auc": round(float(roc_auc_score(y, probabilities)), 4),
        "holdout_average_precision": round(float(average_precision_score(y, probabilities)), 4),
        "holdout_ece": round(expected_calibration_error(y, probabilities), 4),
        "holdout_mean_probability": round(float(probabilities.mean()), 4),
        "holdout_violating_rate": round(float(y.mean()), 4),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000])
    parser.add_argument("--holdout", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    smoke.add_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        smoke.shrink(args, **SMOKE)
    for size in args.sizes:
        result = benchmark(size, holdout=args.holdout, seed=args.seed)
        print(json.dumps(result), flush=True)
        if args.smoke:
            auc = result["holdout_roc_auc"]
            smoke.check(auc > 0.6, f"held-out ROC AUC {auc} on {size} rows")


if __name__ == "__main__":
    main()
