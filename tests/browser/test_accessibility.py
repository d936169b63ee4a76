"""axe-core in a real chromium over every page an analyst, a lead and an operator use: no
violation with impact "serious" or "critical", and one level-one heading per page. axe-core
comes from the npm package in node_modules/ (`make install` runs `npm ci`), never a CDN."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from review.services import quality_compute
from supportability.ml.evaluation import evaluate, gate
from supportability.models import LabelSnapshot, ModelVersion, TrainingRun
from tests.factories import (
    ReviewItemFactory,
    UserFactory,
    clean_label,
    escalated_item,
    label_through_services,
)

from .conftest import axe_report, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

BLOCKING = ("serious", "critical")
OK = ("supportable", "none")
BET = ("restricted", "gambling")


@dataclass
class World:
    disputed_merchant_id: int
    candidate_id: int


def _evaluation(seed: int, *, noise: float) -> Any:
    """A held-out evaluation over 300 rows whose scores separate the classes with `noise`."""
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.3
    scores = np.clip(np.where(y, 0.75, 0.2) + rng.normal(0, noise, 300), 0, 1)
    truth = np.where(y, rng.choice(["gambling", "weapons"], 300), "none")
    return evaluate(
        y,
        scores,
        rng.uniform(0.2, 1.0, 300),
        true_categories=list(truth),
        category_scores={
            c: scores * np.where(truth == c, 0.9, 0.1) for c in ("gambling", "weapons")
        },
        n_boot=20,
        seed=seed,
    )


def _models() -> ModelVersion:
    """A champion and a candidate the retraining chain held for a lead (the model pages show
    both, the champion's pill among them)."""
    champion = ModelVersion.objects.create(
        name="supportability",
        version="1",
        status=ModelVersion.Status.CHAMPION,
        metrics={"average_precision": 0.81, "ece": 0.03},
        promoted_at=timezone.now(),
    )
    ours, theirs = _evaluation(1, noise=0.35), _evaluation(1, noise=0.15)
    verdict = gate(ours, theirs)
    snapshot = LabelSnapshot.objects.create(
        row_count=1_234, content_sha256="5e" * 32, filters={"source": "retrain"}
    )
    candidate = ModelVersion.objects.create(
        name="supportability",
        version="2",
        status=ModelVersion.Status.CANDIDATE,
        snapshot=snapshot,
        metrics={
            "n_train": 960,
            "n_positive": 210,
            "calibration": "isotonic",
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
        snapshot=snapshot,
        gate={"passed": verdict.passed, "reasons": verdict.reasons},
        message=f"{candidate} held for a lead.",
    )
    return candidate


@pytest.fixture
def world() -> World:
    """Two analysts who disagreed once and agreed twice, a lead, an operator, a merchant
    waiting in the queue, agreement statistics and two model versions."""
    ana, ben = (UserFactory(username=name, role="analyst") for name in ("ana", "ben"))
    UserFactory(username="lea", role="lead")
    UserFactory(username="root", role="admin")
    disputed = escalated_item(
        [ana, ben], [BET, OK], priority=0.99, merchant__name="Lucky Spin Arcade"
    )
    for priority in (0.9, 0.8):
        agreed = ReviewItemFactory.create(priority=priority, required_labels=2)
        for analyst in (ana, ben):
            label_through_services(analyst, agreed, *OK)
    ReviewItemFactory(priority=0.5, merchant__name="Corner Bakery")
    # Decided once before (analysts reach a timeline only from a past decision).
    clean_label(disputed.merchant, decision="supportable", category="none")
    quality_compute()
    return World(disputed_merchant_id=disputed.merchant_id, candidate_id=_models().pk)


def _claim(page: Any, base: str, world: World) -> None:
    page.goto(f"{base}/queue/")
    page.click("#claim-next")
    page.wait_for_selector("#merchant-name")


def _refused_label(page: Any, base: str, world: World) -> None:
    """A label submitted without a decision: the errors are shown beside their fields."""
    _claim(page, base, world)
    page.click("#submit-label")
    page.wait_for_selector("[aria-invalid=true]")


def _adjudicate(page: Any, base: str, world: World) -> None:
    page.goto(f"{base}/lead/work/")
    page.click("#claim-adjudicate")
    page.wait_for_url(f"{base}/lead/items/**")


def _wrong_password(page: Any, base: str, world: World) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")


def _reviewer_settings(page: Any, base: str, world: World) -> None:
    page.goto(f"{base}/queue/settings/")


def _go(path: str) -> Callable[[Any, str, World], None]:
    def go(page: Any, base: str, world: World) -> None:
        page.goto(base + path.format(world=world))

    return go


class MissingHeading(AssertionError):
    """A page without exactly one level-one heading."""


# id -> (who logs in, how to reach the page).
PAGES: list[Any] = [
    pytest.param(None, _go("/login/"), id="login"),
    pytest.param(None, _wrong_password, id="login-refused"),
    pytest.param("ana", _go("/queue/"), id="queue"),
    pytest.param("ana", _claim, id="queue-claimed"),
    pytest.param("ana", _refused_label, id="queue-label-refused"),
    pytest.param("ana", _reviewer_settings, id="queue-settings"),
    pytest.param(
        "ana", _go("/lead/merchants/{world.disputed_merchant_id}/"), id="analyst-timeline"
    ),
    pytest.param("lea", _go("/lead/"), id="lead-overview"),
    pytest.param("lea", _go("/lead/work/"), id="lead-work"),
    pytest.param("lea", _adjudicate, id="lead-adjudication"),
    pytest.param("lea", _go("/lead/agreement/"), id="lead-agreement"),
    pytest.param("lea", _go("/lead/models/"), id="lead-models"),
    pytest.param("lea", _go("/lead/models/{world.candidate_id}/"), id="lead-model"),
    pytest.param("lea", _go("/lead/queues/"), id="lead-queues"),
    pytest.param("lea", _go("/lead/audit/"), id="lead-audit"),
    pytest.param("lea", _go("/lead/merchants/{world.disputed_merchant_id}/"), id="lead-timeline"),
    pytest.param("root", _go("/admin/"), id="admin-index"),
    pytest.param("root", _go("/admin/supportability/auditevent/"), id="admin-audit-events"),
    pytest.param(
        "root",
        _go("/admin/supportability/merchant/{world.disputed_merchant_id}/change/"),
        id="admin-merchant",
    ),
]


@pytest.mark.parametrize(("who", "reach"), PAGES)
def test_page_has_no_serious_accessibility_violations(live_server, browser, axe, world, who, reach):
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    if who is not None:
        login(page, base, who)
        page.wait_for_url(lambda url: "/login/" not in url)
    reach(page, base, world)
    assert page.locator("main").count() == 1, f"{page.url} has no main landmark"

    violations = axe(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{page.url}:\n{axe_report(blocking)}"
    headings = page.locator("h1").count()
    if headings != 1:
        raise MissingHeading(f"{page.url} has {headings} level-one headings, not one")


def test_skip_link_is_the_first_tab_stop_and_takes_focus_to_the_page(live_server, browser):
    UserFactory(username="lea", role="lead")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, live_server.url, "lea")
    page.wait_for_url(f"{live_server.url}/lead/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is off screen"
    assert skip.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # on into the page's own content, with a visible focus ring
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert ring != "none"


def test_favicon_is_served_at_its_link_and_at_the_root(live_server, browser):
    page = browser.new_page()
    page.goto(f"{live_server.url}/login/")
    icon = page.get_attribute("link[rel=icon]", "href")
    assert icon is not None
    assert page.request.get(live_server.url + icon).status == 200
    answer = page.request.get(f"{live_server.url}/favicon.ico")
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/svg+xml"
