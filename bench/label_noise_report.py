"""The label-noise benchmark's report: which figures, in what order and format, derived
from each seed's JSON result, as one markdown table (per seed and the mean)."""

from __future__ import annotations

from typing import Any

import numpy as np

# The simulated analysts' biases, by name (bench/label_noise.py builds them).
GAMBLING_BIAS = "gambling is supportable"
PHARMA_BIAS = "drugs <-> pseudo-pharmaceuticals"
B, A, V, N = "before_check", "after_check", "variant_uncertain_second_label", "noise_check"
ROWS: tuple[tuple[str, str, str], ...] = (
    # label, path into the result, format
    ("reviewed items (non-gold)", f"{B}.items", "{:.0f}"),
    ("analyst labels per item, first pass", f"{B}.labels_per_item", "{:.3f}"),
    ("analyst labels per item, with re-review", f"{A}.labels_per_item", "{:.3f}"),
    ("lead decisions per item (adjudications + audits), first pass", "lead_first", "{:.3f}"),
    ("  with re-review", "lead_per_item", "{:.3f}"),
    ("  and sign-offs of four-eyes adjudications per item", "signoffs_per_item", "{:.3f}"),
    ("raw-label accuracy (each label; unsure left out)", f"{B}.raw_accuracy", "{:.3f}"),
    ("majority-vote accuracy per item", f"{B}.majority_accuracy", "{:.3f}"),
    ("clean-label accuracy, before noise check", f"{B}.clean_accuracy", "{:.3f}"),
    ("clean-label accuracy, after re-review", f"{A}.clean_accuracy", "{:.3f}"),
    ("  same, violating or not only", f"{A}.clean_binary_accuracy", "{:.3f}"),
    ("  same, training rows only", f"{A}.clean_training_accuracy", "{:.3f}"),
    ("  by source (after): adjudication", f"{A}.by_source.adjudication.accuracy", "{:.3f}"),
    ("  audit", f"{A}.by_source.audit.accuracy", "{:.3f}"),
    ("  agreement", f"{A}.by_source.agreement.accuracy", "{:.3f}"),
    ("  estimate (Dawid-Skene)", f"{A}.by_source.estimate.accuracy", "{:.3f}"),
    ("  estimate: its mean confidence", f"{A}.by_source.estimate.mean_confidence", "{:.3f}"),
    ("  share of items: adjudication", "share.adjudication", "{:.3f}"),
    ("  audit", "share.audit", "{:.3f}"),
    ("  agreement", "share.agreement", "{:.3f}"),
    ("  estimate", "share.estimate", "{:.3f}"),
    ("wrong clean labels before check", "wrong_before", "{:.0f}"),
    ("  violator called supportable", f"{B}.wrong_violators_as_supportable", "{:.0f}"),
    ("  supportable called violator", f"{B}.wrong_supportable_as_violators", "{:.0f}"),
    ("  right decision, wrong category", f"{B}.wrong_category_only", "{:.0f}"),
    ("  from the estimate", f"{B}.wrong_by_source.estimate", "{:.0f}"),
    ("single-label estimates: analyst's label kept, right", f"{B}.estimates.kept_right", "{:.0f}"),
    ("  kept, wrong", f"{B}.estimates.kept_wrong", "{:.0f}"),
    ("  overruled, right", f"{B}.estimates.overruled_right", "{:.0f}"),
    ("  overruled, wrong", f"{B}.estimates.overruled_wrong", "{:.0f}"),
    (
        "  overruled to supportable, wrong",
        f"{B}.estimates.overruled_to_supportable_wrong",
        "{:.0f}",
    ),
    ("gambling-lenient labels that followed the bias", "bias_gambling.followed_bias", "{:.0f}"),
    ("  their items wrong before check", "bias_gambling.biased_items_clean_wrong", "{:.0f}"),
    (
        "  their items wrong after re-review",
        "bias_gambling_after.biased_items_clean_wrong",
        "{:.0f}",
    ),
    ("drugs/pharma-confused labels that followed the bias", "bias_pharma.followed_bias", "{:.0f}"),
    ("  their items wrong before check", "bias_pharma.biased_items_clean_wrong", "{:.0f}"),
    ("  their items wrong after re-review", "bias_pharma_after.biased_items_clean_wrong", "{:.0f}"),
    ("confident learning flags (any source)", f"{N}.cl_flagged", "{:.0f}"),
    ("  labelled supportable, model says violating", f"{N}.cl_flagged_said_supportable", "{:.0f}"),
    ("    of which wrong before", f"{N}.cl_flagged_said_supportable_wrong", "{:.0f}"),
    ("  labelled violating, model says supportable", f"{N}.cl_flagged_said_violating", "{:.0f}"),
    ("    of which wrong before", f"{N}.cl_flagged_said_violating_wrong", "{:.0f}"),
    ("re-queued (agreement/estimate, limit 200)", f"{N}.requeued", "{:.0f}"),
    ("  of which wrong before", f"{N}.requeued_wrong", "{:.0f}"),
    ("noise check precision (corrected / settled)", f"{N}.precision", "{:.3f}"),
    ("  re-queued that were wrong / re-queued", f"{N}.flag_precision", "{:.3f}"),
    ("noise check recall (found wrong / all wrong)", f"{N}.recall", "{:.3f}"),
    ("  recall within its scope (checked sources, training rows)", "recall_in_scope", "{:.3f}"),
    ("  if it took only doubt >= 0.8: re-queued", f"{N}.doubt_80.n", "{:.0f}"),
    ("    share wrong before (precision)", "doubt_precision.80", "{:.3f}"),
    ("  if it took only doubt >= 0.9: re-queued", f"{N}.doubt_90.n", "{:.0f}"),
    ("    share wrong before (precision)", "doubt_precision.90", "{:.3f}"),
    ("  if it took only doubt >= 0.95: re-queued", f"{N}.doubt_95.n", "{:.0f}"),
    ("    share wrong before (precision)", "doubt_precision.95", "{:.3f}"),
    ("wrong labels fixed by re-review / all wrong", f"{N}.fixed_share", "{:.3f}"),
    ("right labels made wrong after re-review", f"{N}.broken", "{:.0f}"),
    ("  of which re-queued", f"{N}.broken_requeued", "{:.0f}"),
    ("  of which estimates after", f"{N}.broken_by_source_after.estimate", "{:.0f}"),
    ("PR-AUC, model on raw labels (first label)", "models.raw_first_label.pr_auc", "{:.4f}"),
    ("PR-AUC, model on clean labels before check", "models.clean_before_check.pr_auc", "{:.4f}"),
    ("PR-AUC, model on clean labels after check", "models.clean_after_check.pr_auc", "{:.4f}"),
    ("PR-AUC, model on the truth (same items)", "models.truth_same_items.pr_auc", "{:.4f}"),
    ("clean (after check) minus raw PR-AUC", "pr_auc_gain", "{:+.4f}"),
    ("violating training rows: raw", "models.raw_first_label.positives", "{:.0f}"),
    ("  clean after check", "models.clean_after_check.positives", "{:.0f}"),
    ("  truth", "models.truth_same_items.positives", "{:.0f}"),
    ("VARIANT second label for estimates below threshold", f"{V}.threshold", "{:.2f}"),
    ("  re-queued", f"{V}.requeued", "{:.0f}"),
    ("  analyst labels per item", f"{V}.labels_per_item", "{:.3f}"),
    ("  lead decisions per item", "variant_lead_per_item", "{:.3f}"),
    ("  clean-label accuracy", f"{V}.clean_accuracy", "{:.3f}"),
    ("  same, violating or not only", f"{V}.clean_binary_accuracy", "{:.3f}"),
    ("  PR-AUC of a model on these clean labels", "models.clean_variant.pr_auc", "{:.4f}"),
    ("  violating training rows", "models.clean_variant.positives", "{:.0f}"),
    ("seconds for the seed", "seconds.total", "{:.0f}"),
)


def derived(result: dict[str, Any]) -> dict[str, Any]:
    before, after = result[B], result[A]
    variant, check = result[V], result[N]
    models = result["models"]
    return result | {
        "lead_first": before["lead"]["decisions"] / before["items"],
        "lead_per_item": after["lead"]["decisions"] / before["items"],
        "signoffs_per_item": after["lead"]["signoffs"] / before["items"],
        "variant_lead_per_item": variant["lead"]["decisions"] / before["items"],
        "share": {s: v["n"] / after["items"] for s, v in after["by_source"].items()},
        "wrong_before": sum(before["wrong_by_source"].values()),
        "recall_in_scope": check["requeued_wrong"] / check["wrong_in_checked_training_rows"]
        if check["wrong_in_checked_training_rows"]
        else None,
        "doubt_precision": {
            key.removeprefix("doubt_"): value["wrong"] / value["n"]
            for key, value in check.items()
            if key.startswith("doubt_") and value["n"]
        },
        "pr_auc_gain": models["clean_after_check"]["pr_auc"] - models["raw_first_label"]["pr_auc"],
        "bias_gambling": before["biased"].get(GAMBLING_BIAS, {}),
        "bias_gambling_after": after["biased"].get(GAMBLING_BIAS, {}),
        "bias_pharma": before["biased"].get(PHARMA_BIAS, {}),
        "bias_pharma_after": after["biased"].get(PHARMA_BIAS, {}),
    }


def lookup(result: dict[str, Any], path: str) -> float | None:
    """The value at a dotted path; a missing count is 0, a missing rate unknown."""
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return 0.0 if any(k in path for k in COUNTS) else None
        value = value[part]
    return None if value is None else float(value)


COUNTS = ("wrong_by", "estimates.", "bias_", "cl_flagged", "broken_by")


def table(results: list[dict[str, Any]]) -> str:
    seeds = [str(r["seed"]) for r in results]
    lines = [
        "| measure | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
        "| --- |" + " --- |" * (len(seeds) + 1),
    ]
    for label, path, fmt in ROWS:
        values = [lookup(r, path) for r in results]
        known = [v for v in values if v is not None]
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        mean = fmt.format(float(np.mean(known))) if known else "-"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)
