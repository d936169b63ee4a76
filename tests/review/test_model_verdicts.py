"""A model's verdict in words: never 'Passed' without the evidence behind it, and every
missing figure with its reason (split from test_model_pages.py)."""

from __future__ import annotations

import numpy as np
import pytest

from review.demo.seeding import DEMO_MODEL_NAME
from supportability.ml.evaluation import evaluate, gate
from supportability.models import ModelVersion, TrainingRun
from tests.clients import logged_in
from tests.review.test_model_pages import _evaluation, _held_candidate

pytestmark = pytest.mark.django_db

SMALL = ["none"] * 31 + ["gambling"] * 2 + ["weapons", "drugs", "adult", "crypto", "mlm"]


def _small_evaluation(*, scores=None):
    """38 held-out labels: 31 supportable and 7 violators across 6 categories."""
    truth = np.array(SMALL)
    y = truth != "none"
    scores = np.where(y, 0.8, 0.2) if scores is None else scores
    slugs = sorted(set(SMALL) - {"none"})
    return evaluate(
        y,
        scores,
        np.full(len(y), 0.5),
        true_categories=list(truth),
        category_scores={c: scores * (truth == c) for c in slugs},
        n_boot=20,
    )


def _candidate_with_gate(evaluation, stored_gate):
    candidate = _held_candidate(version="small", ours=evaluation, theirs=evaluation)
    TrainingRun.objects.filter(model_version=candidate).update(gate=stored_gate)
    return candidate


def _verdict_text(html):
    start = html.index('id="gate-verdict"')
    return html[html.index(">", start) + 1 : html.index("</p>", start)]


def test_a_pass_on_too_few_labels_reads_not_enough_evidence(lead):
    """A verdict stored before the gate counted its evidence is judged again."""
    candidate = _candidate_with_gate(
        _small_evaluation(), {"passed": True, "reasons": ["Category 'drugs' not compared."]}
    )
    client = logged_in(lead)
    html = client.get(f"/lead/models/{candidate.pk}/").content.decode()
    verdict = _verdict_text(html)
    assert verdict.startswith("Not enough evidence: 38 labels, 6 of 7 categories below 30")
    assert "held for a lead" in verdict and "Passed" not in html
    assert "The gate of the day passed it without counting its evidence." in html
    assert "(below 30: not enough evidence)" in html
    registry = client.get("/lead/models/").content.decode()
    assert "Not enough evidence: 38 labels, 6 of 7 categories below 30" in registry
    assert "Passed" not in registry


def test_the_gate_result_as_stored_is_shown_with_its_own_minimum(lead):
    result = gate(
        _evaluation(1, noise=0.15), _evaluation(1, noise=0.15), min_labels_per_category=50
    )
    candidate = _candidate_with_gate(_evaluation(1, noise=0.15), result.as_dict())
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    assert result.verdict == "not enough evidence"
    assert _verdict_text(html).startswith(
        "Not enough evidence: 300 labels, 1 of 3 categories below 50"
    )


def test_a_pass_on_enough_labels_says_so_with_the_counts(lead):
    ours = _evaluation(1, noise=0.15)
    assert min(c.n for c in ours.per_category.values()) >= 30
    stored = {"passed": True, "reasons": ["Category 'x' not compared: only 2 violating."]}
    candidate = _candidate_with_gate(ours, stored)
    ModelVersion.objects.filter(pk=candidate.pk).update(status=ModelVersion.Status.RETIRED)
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    assert _verdict_text(html) == "Passed on 300 labels, every one of 3 categories at least 30."
    assert "Category &#x27;x&#x27; not compared" in html


def test_missing_figures_say_why(lead):
    nothing_flagged = _small_evaluation(scores=np.full(len(SMALL), 0.3))
    assert nothing_flagged.precision.estimate is None
    candidate = _held_candidate(version="flat", ours=nothing_flagged, theirs=nothing_flagged)
    client = logged_in(lead)
    html = client.get(f"/lead/models/{candidate.pk}/").content.decode()
    table = html[html.index('id="comparison"') : html.index("</table>", html.index("comparison"))]
    assert "no held-out merchant scored 0.5 or more" in table and "needs both figures" in table
    assert "—" not in table
    registry = client.get("/lead/models/").content.decode()
    assert "none scored 0.5 or more" in registry
    bare = ModelVersion.objects.create(name=DEMO_MODEL_NAME, version="bare", status="rejected")
    registry = client.get("/lead/models/").content.decode()
    row = registry[registry.index(f'data-model="{bare.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "not evaluated on held-out labels" in row and "no snapshot recorded" in row
    assert "no retraining run evaluated it" in row and "never" in row and "—" not in row
    page = client.get(f"/lead/models/{bare.pk}/").content.decode()
    training = page[page.index('id="training"') : page.index("</section>", page.index("training"))]
    assert "not recorded" in training and "none stored" in training and "—" not in training


def test_a_champion_the_old_gate_passed_is_not_said_to_be_promoted_by_a_lead(lead):
    candidate = _candidate_with_gate(_small_evaluation(), {"passed": True, "reasons": []})
    ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).update(status="retired")
    ModelVersion.objects.filter(pk=candidate.pk).update(status=ModelVersion.Status.CHAMPION)
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    verdict = _verdict_text(html)
    assert verdict.startswith("Not enough evidence: 38 labels") and "by a lead" not in verdict


def test_a_champion_a_lead_promoted_over_the_gate_says_so(lead):
    candidate = _held_candidate()
    ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).update(status="retired")
    ModelVersion.objects.filter(pk=candidate.pk).update(status=ModelVersion.Status.CHAMPION)
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    assert _verdict_text(html).endswith("; promoted by a lead over it.")
