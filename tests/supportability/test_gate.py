"""The promotion gate's three verdicts on crafted evidence: passed, failed (worse than the
champion, with the reason) and not enough evidence (with the counts, in words)."""

from __future__ import annotations

import json

import pytest

from supportability.ml.evaluation import (
    CategoryEvaluation,
    Evaluation,
    Evidence,
    Interval,
    gate,
    gate_evidence,
)


def _evaluation(counts: dict[str, int], *, pr_auc: float = 0.8, ece: float = 0.03) -> Evaluation:
    """An evaluation whose held-out labels hold `counts` per category ("none" the
    supportable rest) and whose every PR-AUC is `pr_auc`."""
    per_category = {
        slug: CategoryEvaluation(
            n=n, recall=Interval(0.7, 0.6, 0.8), pr_auc=Interval(pr_auc, pr_auc - 0.1, pr_auc)
        )
        for slug, n in counts.items()
        if slug != "none"
    }
    return Evaluation(
        n=sum(counts.values()),
        positives=float(sum(c.n for c in per_category.values())),
        precision=Interval(0.6, 0.5, 0.7),
        recall=Interval(0.7, 0.6, 0.8),
        pr_auc=Interval(pr_auc, pr_auc - 0.1, min(pr_auc + 0.1, 1.0)),
        ece=ece,
        brier=0.1,
        reliability=[(0.2, 0.2, 1.0)],
        pr_curve=[(0.5, 0.8)],
        per_category=per_category,
    )


SMALL = {"none": 31, "gambling": 2, "weapons": 1, "drugs": 1, "adult": 1, "crypto": 1, "mlm": 1}
LARGE = {"none": 400, "gambling": 60, "weapons": 45, "drugs": 31}


def test_small_held_out_set_is_not_enough_evidence_in_words():
    result = gate(_evaluation(SMALL), _evaluation(SMALL))
    assert result.verdict == "not enough evidence"
    assert not result.passed and result.held
    assert result.reasons[0] == "Not enough evidence: 38 labels, 6 of 7 categories below 30."
    assert result.reasons[1] == (
        "Held-out labels below the minimum of 30: adult 1, crypto 1, drugs 1, mlm 1, "
        "weapons 1, gambling 2; no comparison on so few can be trusted, so a lead decides."
    )


def test_enough_labels_and_as_good_as_the_champion_passes():
    result = gate(_evaluation(LARGE), _evaluation(LARGE))
    assert result.verdict == "passed" and result.passed and not result.held
    assert result.reasons == ["Passed on 536 labels, every one of 4 categories at least 30."]


def test_worse_than_the_champion_fails_with_the_reason():
    result = gate(_evaluation(LARGE, pr_auc=0.6), _evaluation(LARGE, pr_auc=0.8))
    assert result.verdict == "failed" and result.held
    assert result.reasons[0] == "Failed on 536 labels, every one of 4 categories at least 30."
    assert result.reasons[1] == (
        "PR-AUC: the candidate's is 0.600, below the champion's 0.800 by 0.200 (tolerance 0.020)."
    )


def test_one_category_short_is_enough_to_withhold_a_pass():
    counts = {**LARGE, "drugs": 29}
    result = gate(_evaluation(counts), _evaluation(counts))
    assert result.verdict == "not enough evidence"
    assert result.reasons[0] == "Not enough evidence: 534 labels, 1 of 4 categories below 30."


def test_not_enough_evidence_wins_over_a_failure_but_lists_it():
    result = gate(_evaluation(SMALL, pr_auc=0.5), _evaluation(SMALL, pr_auc=0.9))
    assert result.verdict == "not enough evidence" and result.held
    assert any(r.startswith("On this little evidence: PR-AUC:") for r in result.reasons)


def test_no_champion_still_needs_the_evidence():
    assert gate(_evaluation(SMALL), None).verdict == "not enough evidence"
    assert gate(_evaluation(LARGE), None).verdict == "passed"


def test_the_minimum_is_a_parameter():
    result = gate(_evaluation(LARGE), _evaluation(LARGE), min_labels_per_category=50)
    assert result.reasons[0] == "Not enough evidence: 536 labels, 2 of 4 categories below 50."
    with pytest.raises(ValueError, match="minimum"):
        gate(_evaluation(LARGE), None, min_labels_per_category=0)


def test_the_result_stores_as_json_with_its_verdict_and_evidence():
    stored = json.loads(json.dumps(gate(_evaluation(SMALL), None).as_dict()))
    assert stored["passed"] is False and stored["held"] is True
    assert stored["verdict"] == "not enough evidence"
    evidence = Evidence.from_dict(stored["evidence"])
    assert evidence == gate_evidence(_evaluation(SMALL))
    assert evidence.summary == "38 labels, 6 of 7 categories below 30"


def test_no_evaluation_is_no_evidence():
    evidence = gate_evidence(None)
    assert not evidence.enough
    assert evidence.summary == "0 labels, no category among them"
