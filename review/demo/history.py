"""A review history for the demo: simulated analysts of known accuracy label the head of
the queue through the same services people use, so that the lead finds disagreements to
adjudicate, a four-eyes decision to sign off, single labels drawn for audit, and agreement
statistics to read, on the first `make run`.

The history plays out over the DAYS working days before today (time-machine moves the
clock the services read): each analyst's day is a session of labels a minute or three
apart, the quality statistics are computed at the end of every few days, so that the
lead's overview has throughput per day, labels per active hour and trends to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling import services as labeling
from labeling.models import Label, ReviewItem
from supportability.models import GroundTruth, PolicyCategory
from supportability.roles import Role
from supportability.services import user_create

from .. import services
from ..services import Work


@dataclass(frozen=True)
class SimulatedAnalyst:
    username: str
    accuracy: float


SIMULATED = (
    SimulatedAnalyst("sim.careful", 0.95),
    SimulatedAnalyst("sim.steady", 0.85),
    SimulatedAnalyst("sim.hasty", 0.70),
)
LABELS_EACH = 150
UNSURE_SHARE = 0.03
DAYS = 14
QUALITY_EVERY = 2  # days
# Seconds an analyst spends on one merchant: lognormal around a minute and a half.
SECONDS_MEDIAN, SECONDS_SPREAD = 90.0, 0.6
SECONDS_MAX = 480.0  # well inside a lease (LEASE_SECONDS, 600 by default)
RATIONALES = {
    "supportable": "Nothing on the site or in the description points at a restricted line.",
    "restricted": "Allowed only with due diligence: {category} per the policy.",
    "prohibited": "The site sells what the {category} policy prohibits.",
    "unsure": "Can't tell from the site alone; needs a lead's view.",
}


def _answer(truth: GroundTruth, accuracy: float, slugs: list[str], rng: np.random.Generator):
    """The analyst's label: the truth with probability `accuracy`; otherwise the usual
    mistakes: a violator waved through, a clean merchant flagged, or the wrong category."""
    if rng.random() < UNSURE_SHARE:
        return "unsure", "none"
    if rng.random() < accuracy:
        return truth.decision, truth.category_slug
    if truth.decision == "supportable":
        slug = str(rng.choice(slugs))
        severity = PolicyCategory.objects.get(slug=slug).severity
        return severity, slug
    if rng.random() < 0.5:
        return "supportable", "none"
    slug = str(rng.choice([s for s in slugs if s != truth.category_slug]))
    return PolicyCategory.objects.get(slug=slug).severity, slug


def history_start(*, now=None):
    """When the simulated history begins: nine in the morning, DAYS + 1 days ago (the demo
    world and its first model are made that morning; the reviews follow on the next days)."""
    now = now or timezone.now()
    start = (now - timedelta(days=DAYS + 1)).astimezone(timezone.get_current_timezone())
    return start.replace(hour=9, minute=0, second=0, microsecond=0)


def history_seed(*, rng: np.random.Generator, traveller: time_machine.Traveller) -> None:
    """Run under `traveller` (time_machine.travel(history_start(), tick=False)), which it
    moves from day to day and label to label."""
    analysts = [user_create(username=sim.username, role=Role.ANALYST)[0] for sim in SIMULATED]
    slugs = list(
        PolicyCategory.objects.filter(assignable=True)
        .exclude(slug="none")
        .values_list("slug", flat=True)
    )
    names = dict(PolicyCategory.objects.values_list("slug", "name"))
    truths = {t.merchant_id: t for t in GroundTruth.objects.all()}
    labeling.chance.seed(int(rng.integers(1 << 30)))
    first_day = timezone.now()
    per_day = -(-LABELS_EACH // DAYS)  # rounds a day, rounded up
    for round_ in range(LABELS_EACH):
        day, within = divmod(round_, per_day)
        if within == 0:
            traveller.move_to(first_day + timedelta(days=day + 1))
            if day and day % QUALITY_EVERY == 0:
                services.quality_compute()
        for analyst, sim in zip(analysts, SIMULATED, strict=True):
            lease = labeling.item_claim(user=analyst)
            if lease is None:
                continue  # this analyst has labelled all they may
            seconds = rng.lognormal(np.log(SECONDS_MEDIAN), SECONDS_SPREAD)
            traveller.shift(float(min(seconds, SECONDS_MAX)))
            item = ReviewItem.objects.get(pk=lease.item_id)
            decision, slug = _answer(truths[item.merchant_id], sim.accuracy, slugs, rng)
            labeling.label_submit(
                user=analyst,
                item_id=item.pk,
                lease_token=lease.token,
                data=labeling.LabelInput(
                    decision,
                    slug,
                    RATIONALES[decision].format(category=names[slug]),
                    f"sim-{round_}",
                ),
            )
    traveller.shift(3_600)
    _lead_history(truths)


def _lead_history(truths: dict[int, GroundTruth]) -> None:
    """The second lead has already done some work: a few QA audits (agreeing where the
    label was right, overturning where not) and adjudications, so that the pages have
    history; the rest is left for the demo's lead. A decision in a four-eyes category waits
    for the other lead's sign-off."""
    User = get_user_model()
    second = User.objects.get(username="lead2")
    drawn = services.qa_audits_draw()
    for _ in range(min(6, drawn // 2)):  # half or more left for the demo's lead
        lease = services.lead_claim(user=second, work=Work.AUDIT)
        if lease is None:
            break
        label = Label.objects.select_related("category").get(item_id=lease.item_id)
        truth = truths[label.merchant_id]
        right = (label.decision, label.category.slug) == (truth.decision, truth.category_slug)
        services.qa_audit_record(
            user=second,
            item_id=lease.item_id,
            lease_token=lease.token,
            agree=right,
            rationale="Checked against the website." if right else "The site says otherwise.",
            decision="" if right else truth.decision,
            category_slug="" if right else truth.category_slug,
        )
    for _ in range(3):
        lease = services.lead_claim(user=second, work=Work.ADJUDICATE)
        if lease is None:
            break
        item = ReviewItem.objects.get(pk=lease.item_id)
        truth = truths[item.merchant_id]
        services.adjudication_submit(
            user=second,
            item_id=item.pk,
            lease_token=lease.token,
            data=services.Decided(truth.decision, truth.category_slug, "Policy team view."),
        )
    services.quality_compute()
    services.clean_labels_refresh()
