"""A real chromium: a lead presses Retrain, the run ends on the page, and the new model's
page shows its held-out evaluation beside the champion's. The model page's screenshot in
docs/ comes from here (`make screenshots`)."""

from __future__ import annotations

import pytest

from review.demo.seeding import demo_seed
from review.models import CleanLabel
from supportability.models import GroundTruth, ModelVersion, PolicyCategory, TrainingRun
from tests.factories import UserFactory

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_lead_retrains_and_reads_the_new_models_page(live_server, browser, monkeypatch):
    import review.services.retraining as retraining

    demo_seed(merchants=2_000, seed=11, history=False)
    # Every merchant's clean label settled from the truth (the refresh would recompute
    # them from labels, of which this world has none).
    monkeypatch.setattr(retraining, "clean_labels_refresh", lambda **kwargs: 0)
    categories = dict(PolicyCategory.objects.values_list("slug", "id"))
    CleanLabel.objects.bulk_create(
        CleanLabel(
            merchant_id=t.merchant_id,
            decision=t.decision,
            category_id=categories[t.category_slug],
            source=CleanLabel.Source.AGREEMENT,
            confidence=1.0,
        )
        for t in GroundTruth.objects.all()
    )
    UserFactory(username="lea", role="lead")
    first = ModelVersion.objects.get(status="champion")
    base = live_server.url

    page = browser.new_page(viewport={"width": 1500, "height": 950})
    login(page, base, "lea")
    page.goto(f"{base}/lead/")
    page.click("#retrain")  # Celery is eager in tests: the chain runs within the request
    page.wait_for_selector("#run-result", timeout=60_000)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.message, run.gate)
    assert f"Retraining #{run.pk} succeeded" in page.inner_text("#run-result")
    champion = ModelVersion.objects.get(status="champion")
    assert champion != first

    page.click(f"#models a[href='/lead/models/{champion.pk}/']")
    page.wait_for_url(f"{base}/lead/models/{champion.pk}/")
    comparison = page.inner_text("#comparison")
    assert "PR-AUC" in comparison and str(first) in page.inner_text("main")
    assert page.locator("#reliability").count() == 1 and page.locator("#pr-curve").count() == 1
    assert "Passed" in page.inner_text("#gate-verdict")
    page.screenshot(path=str(SHOTS / "model-page.png"), full_page=True)
