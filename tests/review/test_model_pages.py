from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from review.demo.seeding import DEMO_MODEL_NAME, demo_seed
from supportability.ml.evaluation import CategoryEvaluation, Interval, evaluate, gate
from supportability.models import AuditEvent, LabelSnapshot, ModelVersion, Score, TrainingRun
from supportability.services import model_train, model_version_register
from tests.clients import logged_in
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

CATEGORIES = ("gambling", "weapons")


def _evaluation(seed: int, *, noise: float):
    """A held-out evaluation of a model whose scores separate 300 rows with `noise`."""
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.random(n) < 0.3
    scores = np.clip(np.where(y, 0.75, 0.2) + rng.normal(0, noise, n), 0, 1)
    truth = np.where(y, rng.choice(CATEGORIES, n), "none")
    category_scores = {c: scores * np.where(truth == c, 0.9, 0.1) for c in CATEGORIES}
    return evaluate(
        y,
        scores,
        rng.uniform(0.2, 1.0, n),
        true_categories=list(truth),
        category_scores=category_scores,
        n_boot=50,
        seed=seed,
    )


def _snapshot(**filters):
    return LabelSnapshot.objects.create(
        row_count=1_234, content_sha256="5e" * 32, filters=filters or {"source": "retrain"}
    )


def _held_candidate(*, version="run7", ours=None, theirs=None, champion_version="1"):
    """A candidate the chain evaluated against the champion and held (its gate failed)."""
    champion = ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).first()
    if champion is None:
        champion = ModelVersion.objects.create(
            name=DEMO_MODEL_NAME,
            version=champion_version,
            status=ModelVersion.Status.CHAMPION,
            metrics={"average_precision": 0.81, "ece": 0.03},
            promoted_at=timezone.now(),
        )
    ours = ours or _evaluation(1, noise=0.35)
    theirs = theirs or _evaluation(1, noise=0.15)
    verdict = gate(ours, theirs)
    candidate = ModelVersion.objects.create(
        name=DEMO_MODEL_NAME,
        version=version,
        status=ModelVersion.Status.CANDIDATE,
        snapshot=_snapshot(),
        metrics={
            "n_train": 960,
            "n_positive": 210,
            "calibration": "isotonic",
            "cv_log_loss": {"sigmoid": 0.4123, "isotonic": 0.3987},
            "average_precision": 0.7,
            "ece": 0.04,
            "brier": 0.1,
            "holdout_rows": ours.n,
            "evaluation": ours.as_dict(),
            "champion": str(champion),
            "champion_evaluation": theirs.as_dict(),
        },
    )
    TrainingRun.objects.create(
        status=TrainingRun.Status.HELD,
        step="decide",
        progress=100,
        holds_lock=False,
        finished_at=timezone.now(),
        model_version=candidate,
        snapshot=candidate.snapshot,
        gate={"passed": verdict.passed, "reasons": verdict.reasons},
        message=f"{candidate} held for a lead.",
    )
    return candidate


def _interval(i: Interval) -> str:
    return f'{i.estimate:.3f} <span class="ci muted">[{i.low:.3f}\u2013{i.high:.3f}]</span>'


def _urls(model_id: int) -> dict[str, str]:
    return {
        "models": reverse("review:models"),
        "model": reverse("review:model", args=[model_id]),
        "promote": reverse("review:model-promote", args=[model_id]),
        "reject": reverse("review:model-reject", args=[model_id]),
    }


@pytest.mark.parametrize("view", ["models", "model", "promote", "reject"])
def test_model_pages_redirect_anonymous_users_to_login(view):
    url = _urls(_held_candidate().pk)[view]
    client = Client()
    response = client.get(url) if view in ("models", "model") else client.post(url, {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("view", ["models", "model", "promote", "reject"])
def test_model_pages_are_forbidden_to_analysts(analyst, view):
    candidate = _held_candidate()
    url = _urls(candidate.pk)[view]
    client = logged_in(analyst)
    response = client.get(url) if view in ("models", "model") else client.post(url, {"reason": "x"})
    assert response.status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.CANDIDATE
    assert TrainingRun.objects.count() == 1


@pytest.mark.parametrize(
    ("view", "status"), [("models", 200), ("model", 200), ("promote", 302), ("reject", 302)]
)
def test_model_pages_serve_leads(lead, view, status):
    url = _urls(_held_candidate().pk)[view]
    client = logged_in(lead)
    response = client.get(url) if view in ("models", "model") else client.post(url, {"reason": "x"})
    assert response.status_code == status


def test_registry_lists_versions_with_intervals_highlights_champion_and_held_reasons(lead):
    candidate = _held_candidate()
    rejected = ModelVersion.objects.create(
        name=DEMO_MODEL_NAME, version="run3", status=ModelVersion.Status.REJECTED
    )
    ModelVersionFactory(name="upstream", version="x9")  # an external detector
    html = logged_in(lead).get("/lead/models/").content.decode()
    ours = candidate.metrics["evaluation"]
    for key in ("pr_auc", "precision", "recall"):
        assert _interval(Interval(**ours[key])) in html
    assert f"{ours['ece']:.3f}" in html and f"{ours['brier']:.3f}" in html
    rows = re.findall(r'<tr class="model-row([^"]*)" data-model="(\d+)"', html)
    champion = ModelVersion.objects.get(status=ModelVersion.Status.CHAMPION)
    assert [int(pk) for _, pk in rows] == [rejected.pk, candidate.pk, champion.pk]
    classes = {int(pk): cls for cls, pk in rows}
    assert "held-row" in classes[candidate.pk] and "champion-row" in classes[champion.pk]
    assert "held-row" not in classes[rejected.pk]
    assert "1,234 rows" in html and "5e5e5e5e" in html
    reasons = TrainingRun.objects.get(model_version=candidate).gate["reasons"]
    assert reasons[0].startswith("Failed on 300 labels")  # the headline, shown in words:
    assert "Failed: worse than the champion on 300 labels, every one of 3 categories" in html
    assert reasons[1:] and all(escape(r) in html for r in reasons[1:])
    assert "upstream@x9" not in html
    assert f'href="/lead/models/{candidate.pk}/"' in html


def test_model_page_compares_with_the_champion_and_plots_both(lead):
    candidate = _held_candidate()
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    ours, theirs = candidate.metrics["evaluation"], candidate.metrics["champion_evaluation"]
    table = html[
        html.index('id="comparison"') : html.index("</table>", html.index('id="comparison"'))
    ]
    for key in ("pr_auc", "precision", "recall"):
        assert _interval(Interval(**ours[key])) in table
        assert _interval(Interval(**theirs[key])) in table
    diff = ours["pr_auc"]["estimate"] - theirs["pr_auc"]["estimate"]
    assert f"{diff:.3f}" in table and 'class="worse"' in table
    # the reliability diagram: both models' bins, sized by weight, and the diagonal
    svg = html[
        html.index('<svg id="reliability"') : html.index("</svg>", html.index('id="reliability"'))
    ]
    assert 'class="diagonal"' in svg
    assert svg.count('<circle class="series-1"') == len(ours["reliability"])
    assert svg.count('<circle class="series-2"') == len(theirs["reliability"])
    radii = {float(r) for r in re.findall(r'r="([\d.]+)"', svg)}
    assert len(radii) > 1  # point size follows the weight share
    pr = html[html.index('<svg id="pr-curve"') : html.index("</svg>", html.index('id="pr-curve"'))]
    assert '<polyline class="series-1"' in pr and '<polyline class="series-2"' in pr
    # per category, the snapshot, the training, the gate and the lead's decision
    assert 'data-category="gambling"' in html and "Gambling" in html
    assert "isotonic" in html and "0.3987" in html and "0.4123" in html
    assert "1,234" in html and "5e5e5e5e5e5e" in html and "source=retrain" in html
    reasons = TrainingRun.objects.get(model_version=candidate).gate["reasons"]
    verdict = html[html.index('id="gate-verdict"') : html.index("</p>", html.index("gate-verdict"))]
    assert (
        "Failed: worse than the champion on 300 labels" in verdict and "held for a lead" in verdict
    )
    assert all(escape(r) in html for r in reasons[1:])
    assert 'id="promote-form"' in html and 'name="reason" required' in html


def test_model_page_highlights_a_category_regression(lead):
    base = _evaluation(2, noise=0.2)
    good = CategoryEvaluation(n=30, recall=Interval(0.8, 0.7, 0.9), pr_auc=Interval(0.9, 0.8, 0.95))
    worse = CategoryEvaluation(n=30, recall=Interval(0.6, 0.5, 0.7), pr_auc=Interval(0.7, 0.6, 0.8))
    slight = CategoryEvaluation(
        n=3, recall=Interval(0.6, 0.5, 0.7), pr_auc=Interval(0.88, 0.8, 0.9)
    )
    ours = replace(base, per_category={"weapons": worse, "gambling": slight})
    theirs = replace(base, per_category={"weapons": good, "gambling": good})
    candidate = _held_candidate(ours=ours, theirs=theirs)
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    weapons = re.search(r'<tr data-category="weapons" class="([^"]*)"', html)
    gambling = re.search(r'<tr data-category="gambling" class="([^"]*)"', html)
    assert weapons and "regression" in weapons.group(1)
    assert gambling and "regression" not in gambling.group(1) and "few" in gambling.group(1)
    assert "-0.200" in html


def test_model_page_escapes_snapshot_filters(lead):
    candidate = _held_candidate()
    snapshot = _snapshot(note="<script>alert(1)</script>")
    ModelVersion.objects.filter(pk=candidate.pk).update(snapshot=snapshot)
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_external_and_unknown_versions_are_404(lead):
    external = ModelVersionFactory()
    client = logged_in(lead)
    for model_id in (external.pk, 999_999):
        assert client.get(f"/lead/models/{model_id}/").status_code == 404
        assert client.post(f"/lead/models/{model_id}/promote/").status_code == 404
        reject = client.post(f"/lead/models/{model_id}/reject/", {"reason": "no"})
        assert reject.status_code == 404
    external.refresh_from_db()
    assert external.status == ModelVersion.Status.EXTERNAL
    assert not TrainingRun.objects.exists()


def test_reject_without_a_reason_is_400_naming_reason(lead):
    candidate = _held_candidate()
    response = logged_in(lead).post(f"/lead/models/{candidate.pk}/reject/", {"reason": "  "})
    assert response.status_code == 400
    assert 'data-field="reason"' in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.CANDIDATE
    assert not AuditEvent.objects.filter(verb="model.reject").exists()


def test_reject_with_a_reason_rejects_and_returns_to_the_model_page(lead):
    candidate = _held_candidate()
    client = logged_in(lead)
    response = client.post(f"/lead/models/{candidate.pk}/reject/", {"reason": "misses weapons"})
    assert response.status_code == 302
    assert response["Location"] == f"/lead/models/{candidate.pk}/"
    candidate.refresh_from_db()
    assert candidate.status == ModelVersion.Status.REJECTED
    event = AuditEvent.objects.get(verb="model.reject", actor=lead)
    assert event.after["reason"] == "misses weapons"
    html = client.get(response["Location"]).content.decode()
    assert "rejected." in html and 'id="promote-form"' not in html
    again = client.post(f"/lead/models/{candidate.pk}/reject/", {"reason": "twice"})
    assert again.status_code == 409


def test_promote_while_a_retraining_runs_is_409_and_changes_nothing(lead):
    candidate = _held_candidate()
    TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, step="train")
    response = logged_in(lead).post(f"/lead/models/{candidate.pk}/promote/")
    assert response.status_code == 409
    assert "already queued or running" in response.content.decode()
    assert TrainingRun.objects.count() == 2
    assert not AuditEvent.objects.filter(verb="model.promote_requested").exists()


def test_promote_a_version_that_is_not_a_candidate_is_409(lead):
    _held_candidate()
    champion = ModelVersion.objects.get(status=ModelVersion.Status.CHAMPION)
    response = logged_in(lead).post(f"/lead/models/{champion.pk}/promote/")
    assert response.status_code == 409
    assert "Only a candidate can be promoted" in response.content.decode()
    assert TrainingRun.objects.count() == 1


def test_dashboard_links_a_held_run_to_its_model_page(lead):
    candidate = _held_candidate()
    html = logged_in(lead).get("/lead/").content.decode()
    assert f'<a href="/lead/models/{candidate.pk}/">held for a lead — review it</a>' in html
    assert f'<a href="/lead/models/{candidate.pk}/">{candidate}</a>' in html


def _registry_queries(django_assert_num_queries, client, n):
    with django_assert_num_queries(n):
        assert client.get("/lead/models/").status_code == 200


def test_registry_query_count_does_not_grow_with_versions(lead, django_assert_num_queries):
    client = logged_in(lead)
    client.get("/healthz")  # the first request after a login records the session's start
    _held_candidate()
    # session, user, the user's groups, the versions (with snapshots), their runs
    _registry_queries(django_assert_num_queries, client, 5)
    for k in range(6):
        _held_candidate(version=f"more{k}")
    ModelVersionFactory.create_batch(3)
    _registry_queries(django_assert_num_queries, client, 5)


@pytest.fixture
def seeded():
    world = demo_seed(merchants=600, seed=11, history=False)
    champion = ModelVersion.objects.get(status=ModelVersion.Status.CHAMPION)
    snapshot = champion.snapshot
    # Leave a sixth of the merchants out: a different model from the same labels.
    ids = list(snapshot.rows.order_by("merchant_id").values_list("merchant_id", flat=True))
    trained = model_train(snapshot=snapshot, seed=1, exclude=ids[::6])
    candidate = model_version_register(
        name=DEMO_MODEL_NAME, version="lead-test", trained=trained, snapshot=snapshot
    )
    return world, champion, candidate


def test_model_page_shows_top_terms_of_the_model_and_the_champion(seeded, lead):
    _, champion, candidate = seeded
    html = logged_in(lead).get(f"/lead/models/{candidate.pk}/").content.decode()
    ours = html[
        html.index('id="model-terms"') : html.index("</ol>", html.index('id="model-terms"'))
    ]
    theirs = html[
        html.index('id="champion-terms"') : html.index("</ol>", html.index('id="champion-terms"'))
    ]
    assert ours.count("<li>") == 15 and theirs.count("<li>") == 15
    assert f"<h3>{champion}</h3>" in html
    assert 'id="terms-added"' in html and 'id="terms-dropped"' in html
    assert 'id="no-evaluation"' in html  # registered by hand: never evaluated on held-out


def test_lead_promotes_a_candidate_through_the_page(
    seeded, lead, django_capture_on_commit_callbacks
):
    _, champion, candidate = seeded
    with django_capture_on_commit_callbacks(execute=True):  # the eager Celery chain runs
        response = logged_in(lead).post(f"/lead/models/{candidate.pk}/promote/")
    assert response.status_code == 302
    assert response["Location"] == reverse("review:dashboard")
    candidate.refresh_from_db()
    champion.refresh_from_db()
    assert candidate.status == ModelVersion.Status.CHAMPION and candidate.promoted_at
    assert champion.status == ModelVersion.Status.RETIRED
    run = TrainingRun.objects.get(model_version=candidate)
    assert run.status == TrainingRun.Status.SUCCEEDED and run.requested_by == lead
    assert Score.objects.filter(model_version=candidate).count() == 600


def test_model_page_query_count_is_pinned(lead, django_assert_num_queries):
    candidate = _held_candidate()
    client = logged_in(lead)
    client.get("/healthz")  # the first request after a login records the session's start
    # session, user, groups, the version (with snapshot and policy version), the champion
    # it was compared with, its runs, category names, whether a retraining runs (versions
    # without an artifact: no top terms to load)
    with django_assert_num_queries(8):
        assert client.get(f"/lead/models/{candidate.pk}/").status_code == 200
