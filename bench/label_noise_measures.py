"""What bench/label_noise.py measures of a labelled world: the accuracy of each stage's
labels and clean labels, and how precise the noise check's second looks are."""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.label_noise_world import (
    Bias,
    bias_diagnosis,
    estimate_diagnosis,
    is_violating,
)


def label_quality(
    truth: dict[int, str], biases: dict[str, Bias | None], rng: np.random.Generator
) -> dict[str, Any]:
    """Raw labels, majority vote and clean labels against the truth, on non-gold items;
    where the wrong clean labels come from."""
    from labeling.models import Label, ReviewItem
    from review.models import CleanLabel

    items = set(ReviewItem.objects.filter(gold__isnull=True).values_list("merchant_id", flat=True))
    said: dict[int, list[tuple[str, str]]] = defaultdict(list)  # merchant -> (analyst, value)
    for merchant, analyst, decision, slug in (
        Label.objects.filter(item__gold__isnull=True)
        .order_by("id")
        .values_list("merchant_id", "analyst__username", "decision", "category__slug")
    ):
        said[merchant].append((analyst, f"{decision}/{slug}"))
    flat = [(m, v) for m, labels in said.items() for _, v in labels]
    decided = [(m, v) for m, v in flat if not v.startswith("unsure")]
    majority = {}
    for merchant, labels in said.items():
        votes = Counter(v for _, v in labels if not v.startswith("unsure"))
        if votes:
            top = max(votes.values())
            tied = sorted(v for v, n in votes.items() if n == top)
            majority[merchant] = tied[int(rng.integers(len(tied)))]
    clean = {
        m: (f"{d}/{s}", src, conf, training)
        for m, d, s, src, conf, training in CleanLabel.objects.filter(
            merchant_id__in=items
        ).values_list("merchant_id", "decision", "category__slug", "source", "confidence",
                      "for_training")
    }  # fmt: skip
    by_source: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for merchant, (value, source, confidence, _) in clean.items():
        by_source[source][0] += 1
        by_source[source][1] += value == truth[merchant]
        by_source[source][2] += confidence
    wrong = {m for m, (value, *_) in clean.items() if value != truth[m]}
    training = [m for m, (*_, usable) in clean.items() if usable]
    gold_labels = Label.objects.filter(item__gold__isnull=False).count()
    return {
        "items": len(items),
        "labels": len(flat) + gold_labels,
        "labels_per_item": (len(flat) + gold_labels) / len(items),
        "unsure_share": 1 - len(decided) / len(flat),
        "raw_accuracy": float(np.mean([v == truth[m] for m, v in decided])),
        "raw_binary_accuracy": float(
            np.mean([is_violating(v) == is_violating(truth[m]) for m, v in decided])
        ),
        "majority_accuracy": float(np.mean([v == truth[m] for m, v in majority.items()])),
        "clean_coverage": len(clean) / len(items),
        "clean_accuracy": float(np.mean([v == truth[m] for m, (v, *_) in clean.items()])),
        "clean_binary_accuracy": float(
            np.mean([is_violating(v) == is_violating(truth[m]) for m, (v, *_) in clean.items()])
        ),
        "clean_training_accuracy": float(np.mean([clean[m][0] == truth[m] for m in training])),
        "by_source": {
            s: {"n": n, "accuracy": ok / n, "mean_confidence": conf / n}
            for s, (n, ok, conf) in by_source.items()
        },
        "wrong": sorted(wrong),
        "wrong_violators_as_supportable": sum(
            1 for m in wrong if is_violating(truth[m]) and not is_violating(clean[m][0])
        ),
        "wrong_supportable_as_violators": sum(
            1 for m in wrong if not is_violating(truth[m]) and is_violating(clean[m][0])
        ),
        "wrong_category_only": sum(
            1 for m in wrong if is_violating(truth[m]) and is_violating(clean[m][0])
        ),
        "wrong_by_source": dict(Counter(clean[m][1] for m in wrong)),
        "wrong_by_truth": dict(Counter(truth[m] for m in wrong)),
        "estimates": estimate_diagnosis(truth, said, clean),
        "biased": bias_diagnosis(truth, said, clean, biases),
        "clean": {m: v for m, (v, *_) in clean.items()},
        "sources": {m: source for m, (_, source, *_) in clean.items()},
    }


DOUBT_CUTS = (0.5, 0.7, 0.8, 0.9, 0.95)


def noise_check_observed(
    truth: dict[int, str], before: dict[str, Any], run: Callable[[], int]
) -> dict[str, Any]:
    """Run the noise check, recording what confident learning flagged before the service's
    source filter and limit, and how strongly the model doubted each label (a wrapper
    around the check's `label_issues`, which it calls unchanged)."""
    from review.models import CleanLabel, ReReview
    from review.services import noise_check

    module = sys.modules[noise_check.__module__]
    original = getattr(module, "label_issues")  # noqa: B009 (a module typed as ModuleType)
    seen: dict[str, np.ndarray] = {}

    def spy(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
        flagged = np.asarray(original(labels, pred_probs), dtype=bool)
        seen["labels"], seen["probs"], seen["flagged"] = labels, pred_probs, flagged
        return flagged

    setattr(module, "label_issues", spy)  # noqa: B010
    started = time.perf_counter()
    try:
        requeued = run()
    finally:
        setattr(module, "label_issues", original)  # noqa: B010
    seconds = time.perf_counter() - started
    clean = list(
        CleanLabel.objects.filter(for_training=True)
        .order_by("merchant_id")
        .values_list("merchant_id", "source")
    )
    labels, flagged = seen["labels"], seen["flagged"]
    doubt = seen["probs"][np.arange(len(labels)), 1 - labels]
    wrong = set(before["wrong"])
    checked = [s in ("agreement", "estimate") for _, s in clean]
    out: dict[str, Any] = {"seconds": seconds, "requeued": requeued}
    for name, keep in (
        ("cl_flagged", flagged),
        ("cl_flagged_said_supportable", flagged & (labels == 0)),
        ("cl_flagged_said_violating", flagged & (labels == 1)),
    ):
        merchants = [m for (m, _), k in zip(clean, keep, strict=True) if k]
        out[name] = len(merchants)
        out[f"{name}_wrong"] = sum(1 for m in merchants if m in wrong)
    for cut in DOUBT_CUTS:
        merchants = [
            m for (m, _), f, c, d in zip(clean, flagged, checked, doubt, strict=True)
            if f and c and d >= cut
        ]  # fmt: skip
        out[f"doubt_{round(cut * 100)}"] = {
            "n": len(merchants),
            "wrong": sum(1 for m in merchants if m in wrong),
        }
    doubted = set(ReReview.objects.values_list("merchant_id", flat=True))
    return out | {
        "wrong_in_checked_training_rows": sum(
            1 for (m, _), c in zip(clean, checked, strict=True) if c and m in wrong
        ),
        "requeued_wrong": len(doubted & wrong),
        "requeued_merchants": sorted(doubted),
    }


def uncertain_requeue(threshold: float) -> int:
    """The second looks: estimate-settled clean labels less sure than `threshold` go back
    for one more blind label (the service the hourly noise task runs)."""
    from review.services import second_looks

    return second_looks(below=threshold, limit=100_000)
