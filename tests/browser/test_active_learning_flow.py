"""A real chromium: a lead sets a queue's mix and draws a round, reads why each item is
queued; an analyst gets an item whose score is hidden; the lead's dashboard shows the
weighted estimates beside the naive ones."""

from __future__ import annotations

import pytest

from labeling.models import Queue, SamplingRound
from labeling.services import queue_default
from tests.factories import UserFactory, scored_population
from tests.review.test_sampling import settle

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]


def test_lead_sets_the_mix_draws_a_round_and_reads_the_estimates(live_server, browser):
    UserFactory(username="ana", role="analyst")
    UserFactory(username="lea", role="lead")
    scored_population(300, seed=6)
    queue_default()  # the migration's, flushed by the transactional test
    base = live_server.url

    lead = browser.new_page(viewport={"width": 1400, "height": 900})
    login(lead, base, "lea")
    lead.wait_for_url(f"{base}/lead/")
    lead.goto(f"{base}/lead/queues/")
    mix = "#mix-general"
    for name, value in (
        ("draw_capacity", "40"),
        ("share_risk", "50"),
        ("share_uncertainty", "20"),
        ("share_diversity", "10"),
        ("share_audit", "20"),
        ("hide_score_share", "100"),  # every new item hides the score, for this test
    ):
        lead.fill(f"{mix} input[name={name}]", value)
    lead.click(f"{mix} button[type=submit]")
    lead.wait_for_selector("text=Mix for General saved")
    queue = Queue.objects.get(slug="general")
    assert queue.mix["risk"] == pytest.approx(0.5) and queue.draw_capacity == 40

    lead.click("#draw-general")
    lead.wait_for_selector("text=new to review")
    drawn = SamplingRound.objects.get()
    assert drawn.shares == pytest.approx(queue.mix)
    why = lead.inner_text("#sampling-general table.head")
    assert f"in round {drawn.pk}" in why and "score hidden from the analyst" in why
    lead.screenshot(path=str(SHOTS / "queue-mix.png"), full_page=True)

    analyst = browser.new_page(viewport={"width": 1400, "height": 900})
    login(analyst, base, "ana")
    analyst.wait_for_url(f"{base}/queue/")
    analyst.keyboard.press("n")
    analyst.wait_for_selector("#score-hidden")
    assert analyst.query_selector("#model-score") is None
    assert "probability of violating" not in analyst.inner_text("article.review")

    settle(drawn, lambda d: d.probability > 0.4)  # as if the round had been worked
    lead.goto(f"{base}/lead/")
    table = lead.inner_text("#estimates-table")
    assert "Violating (restricted or prohibited)" in table and "Recall of the model" in table
    lead.click("#automation-bias summary")  # folded away on the overview
    assert "Score hidden" in lead.inner_text("#bias-table")
    lead.locator("#estimates").screenshot(path=str(SHOTS / "lead-estimates.png"))
