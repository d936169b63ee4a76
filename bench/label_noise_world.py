"""The label-noise benchmark's world (bench/label_noise.py): synthetic merchants with hidden
truth, simulated analysts with their accuracy and biases answering through the services,
leads who adjudicate, sign off and audit with the truth, and how the biased analysts' and
the estimate's labels fared."""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.label_noise_report import GAMBLING_BIAS, PHARMA_BIAS

UNSURE_SHARE = 0.03
GOLD_ITEMS = 40
MIN_PROPENSITY = 0.02
LEAD_EVERY = 200  # analyst labels between two rounds of lead work
MERCHANT_FIELDS = (
    "external_id", "name", "country", "mcc", "url", "description", "website_text",
    "refund_rate", "dispute_rate", "cnp_share", "account_age_days", "monthly_volume",
)  # fmt: skip


@dataclass(frozen=True)
class Bias:
    """With probability `strength`, an analyst answers `says[truth category]` instead."""

    name: str
    says: dict[str, tuple[str, str]]
    strength: float


GAMBLING_OK = Bias(GAMBLING_BIAS, {"gambling": ("supportable", "none")}, 0.8)
PHARMA_DRUGS = Bias(
    PHARMA_BIAS,
    {
        "drugs": ("prohibited", "pseudo-pharmaceuticals"),
        "pseudo-pharmaceuticals": ("prohibited", "drugs"),
    },
    0.6,
)
BIASES: tuple[Bias | None, ...] = (GAMBLING_OK, GAMBLING_OK, PHARMA_DRUGS, PHARMA_DRUGS)


@dataclass(frozen=True)
class Analyst:
    username: str
    accuracy: float
    bias: Bias | None


@dataclass
class Tally:
    labels: int = 0
    re_review_labels: int = 0
    adjudications: int = 0
    signoffs: int = 0
    audits: int = 0
    keys: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def lead(self) -> dict[str, int]:
        """Leads' decisions so far (an adjudication's sign-off is a second lead's look)."""
        return {
            "adjudications": self.adjudications,
            "audits": self.audits,
            "signoffs": self.signoffs,
            "decisions": self.adjudications + self.audits,
        }


def answer(analyst: Analyst, truth: str, rng: np.random.Generator) -> tuple[str, str]:
    """The analyst's label: unsure now and then; their bias where it applies; otherwise the
    truth with their accuracy, else the usual mistakes (a violator waved through, a clean
    merchant flagged, the wrong category)."""
    from supportability.ml.taxonomy import VIOLATION_CATEGORIES, decision_for_category

    if rng.random() < UNSURE_SHARE:
        return "unsure", "none"
    decision, slug = truth.split("/")
    bias = analyst.bias
    if bias is not None and slug in bias.says and rng.random() < bias.strength:
        return bias.says[slug]
    if rng.random() < analyst.accuracy:
        return decision, slug
    if decision == "supportable":
        wrong = str(rng.choice(VIOLATION_CATEGORIES))
        return decision_for_category(wrong), wrong
    if rng.random() < 0.5:
        return "supportable", "none"
    wrong = str(rng.choice([c for c in VIOLATION_CATEGORIES if c != slug]))
    return decision_for_category(wrong), wrong


# --- one seed, in its own process --------------------------------------------------------


def build_world(seed: int, args: argparse.Namespace, rng: np.random.Generator) -> dict[int, str]:
    """Merchants, a seed model on historical decisions, every other merchant scored, a
    Poisson-sampled queue of about `args.items`, and gold answers. Returns the truth."""
    from django.contrib.auth import get_user_model

    from labeling import services as labeling
    from labeling.models import ReviewItem
    from supportability.ml.synthetic import generate_merchants
    from supportability.models import Merchant, Score
    from supportability.services import (
        merchants_create,
        merchants_score,
        model_promote,
        model_train,
        model_version_register,
        snapshot_create,
    )

    world = generate_merchants(args.world, seed=seed)
    created = merchants_create({k: getattr(m, k) for k in MERCHANT_FIELDS} for m in world)
    truth = {
        c.pk: f"{m.true_decision}/{m.true_category}" for c, m in zip(created, world, strict=True)
    }
    history = [c.pk for c in created if rng.random() < args.history / args.world]
    rows = [snapshot_row(pk, truth[pk], "history") for pk in history]
    snapshot = snapshot_create(rows=rows, filters={"source": "history", "seed": seed})
    version = model_version_register(
        name="noise-bench", version="1", trained=model_train(snapshot=snapshot, seed=seed),
        snapshot=snapshot,
    )  # fmt: skip
    model_promote(model_version=version)
    merchants_score(model_version=version, merchants=Merchant.objects.exclude(pk__in=history))
    scores = list(
        Score.objects.filter(model_version=version).values_list("merchant_id", "id", "probability")
    )
    # Scale π ∝ √score so that the expected queue is about args.items (bisection on c).
    roots = np.sqrt(np.array([p for *_, p in scores]))
    low, high = 0.0, 100.0
    for _ in range(60):
        c = (low + high) / 2
        expected = np.minimum(1.0, np.maximum(MIN_PROPENSITY, c * roots)).sum()
        low, high = (c, high) if expected < args.items else (low, c)
    propensity = np.minimum(1.0, np.maximum(MIN_PROPENSITY, high * roots))
    queue = labeling.queue_default()
    lead = get_user_model().objects.get(username="lead1")
    labeling.queue_update(
        actor=lead, queue_id=queue.pk, overlap_share=0.2, overlap_k=2, gold_rate=0.02
    )
    entries = [
        labeling.Enqueue(
            merchant_id=merchant, score_id=score_id, priority=p, propensity=float(pi),
            reason=ReviewItem.Reason.FLAGGED if p >= 0.5 else ReviewItem.Reason.AUDIT_SAMPLE,
        )
        for (merchant, score_id, p), pi in zip(scores, propensity, strict=True)
        if rng.random() < pi
    ]  # fmt: skip
    labeling.items_enqueue(entries=entries)
    violators = [pk for pk in history if not truth[pk].startswith("supportable")]
    clean = [pk for pk in history if truth[pk].startswith("supportable")]
    picks = list(rng.choice(violators, min(GOLD_ITEMS // 2, len(violators)), replace=False))
    picks += list(rng.choice(clean, GOLD_ITEMS - len(picks), replace=False))
    for pk in picks:
        decision, slug = truth[int(pk)].split("/")
        labeling.gold_create(
            actor=lead,
            merchant=Merchant.objects.get(pk=pk),
            data=labeling.LabelInput(decision, slug, "Confirmed by the policy team.", "gold"),
        )
    return truth


def analysts_label(
    analysts: Sequence[Analyst], users: Sequence[Any], truth: dict[int, str],
    rng: np.random.Generator, tally: Tally, leads: Callable[[], None], *, re_review: bool,
) -> None:  # fmt: skip
    """Analysts claim and label in a random order each round until nobody gets an item;
    the leads work through their queues every LEAD_EVERY labels and at the end."""
    from labeling import services as labeling
    from labeling.models import ReviewItem

    since_leads = 0
    while True:
        done = 0
        for i in rng.permutation(len(analysts)):
            started = time.perf_counter()
            lease = labeling.item_claim(user=users[i])
            tally.seconds["claim"] += time.perf_counter() - started
            if lease is None:
                continue
            merchant = ReviewItem.objects.values_list("merchant_id", flat=True).get(
                pk=lease.item_id
            )
            decision, slug = answer(analysts[i], truth[merchant], rng)
            tally.keys += 1
            started = time.perf_counter()
            labeling.label_submit(
                user=users[i], item_id=lease.item_id, lease_token=lease.token,
                data=labeling.LabelInput(decision, slug, "Simulated review.", f"k{tally.keys}"),
            )  # fmt: skip
            tally.seconds["label"] += time.perf_counter() - started
            done += 1
        tally.labels += done
        tally.re_review_labels += done if re_review else 0
        since_leads += done
        if done == 0 or since_leads >= LEAD_EVERY:
            leads()
            since_leads = 0
        if done == 0:
            return


def leads_work(leads: Sequence[Any], truth: dict[int, str], tally: Tally) -> None:
    """Leads draw QA audits, adjudicate escalations, sign off and audit, always with the
    truth (leads are assumed right)."""
    from labeling.models import ReviewItem
    from review import services as review
    from review.models import QaAudit

    started = time.perf_counter()
    review.qa_audits_draw()
    for lead, other in ((leads[0], leads[1]), (leads[1], leads[0])):
        while (lease := review.lead_claim(user=lead, work=review.Work.ADJUDICATE)) is not None:
            merchant = ReviewItem.objects.values_list("merchant_id", flat=True).get(
                pk=lease.item_id
            )
            decision, slug = truth[merchant].split("/")
            review.adjudication_submit(
                user=lead, item_id=lease.item_id, lease_token=lease.token,
                data=review.Decided(decision, slug, "Checked against the website."),
            )  # fmt: skip
            tally.adjudications += 1
        while (lease := review.lead_claim(user=other, work=review.Work.SIGNOFF)) is not None:
            review.adjudication_signoff(
                user=other, item_id=lease.item_id, lease_token=lease.token, approve=True
            )
            tally.signoffs += 1
        while (lease := review.lead_claim(user=lead, work=review.Work.AUDIT)) is not None:
            audit = QaAudit.objects.select_related("label__category").get(
                item_id=lease.item_id, status=QaAudit.Status.PENDING
            )
            said = f"{audit.label.decision}/{audit.label.category.slug}"
            decision, slug = truth[audit.merchant_id].split("/")
            review.qa_audit_record(
                user=lead, item_id=lease.item_id, lease_token=lease.token,
                agree=said == truth[audit.merchant_id], rationale="Checked against the website.",
                decision=decision, category_slug=slug,
            )  # fmt: skip
            tally.audits += 1
    tally.seconds["leads"] += time.perf_counter() - started


def snapshot_row(merchant: int, value: str, source: str) -> Any:
    from supportability.services import SnapshotRow

    decision, slug = value.split("/")
    return SnapshotRow(merchant, decision, slug, source)


def is_violating(value: str) -> bool:
    return not value.startswith("supportable")


def estimate_diagnosis(
    truth: dict[int, str], said: dict[int, list[tuple[str, str]]], clean: dict[int, Any]
) -> dict[str, int]:
    """Single-label items settled by the Dawid-Skene estimate: did the estimate keep the
    analyst's label or overrule it, and was it right?"""
    counts: Counter[str] = Counter()
    for merchant, (value, source, *_) in clean.items():
        labels = [v for _, v in said.get(merchant, []) if not v.startswith("unsure")]
        if source != "estimate" or len(labels) != 1:
            continue
        kept = "kept" if value == labels[0] else "overruled"
        right = "right" if value == truth[merchant] else "wrong"
        counts[f"{kept}_{right}"] += 1
        if kept == "overruled":
            direction = "to_supportable" if not is_violating(value) else "to_violating"
            counts[f"overruled_{direction}_{right}"] += 1
        elif is_violating(labels[0]):
            counts[f"kept_violating_{right}"] += 1
    return dict(counts)


def bias_diagnosis(
    truth: dict[int, str],
    said: dict[int, list[tuple[str, str]]],
    clean: dict[int, Any],
    biases: dict[str, Bias | None],
) -> dict[str, dict[str, int]]:
    """Per bias: items whose truth is in its categories that a biased analyst labelled, how
    many of those labels followed the bias, and how many such items end with a wrong clean
    label."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for merchant, labels in said.items():
        slug = truth[merchant].split("/")[1]
        for analyst, value in labels:
            bias = biases.get(analyst)
            if bias is None or slug not in bias.says:
                continue
            followed = value == "/".join(bias.says[slug])
            out[bias.name]["labels"] += 1
            out[bias.name]["followed_bias"] += followed
            if followed and merchant in clean:
                out[bias.name]["biased_items_clean_wrong"] += clean[merchant][0] != truth[merchant]
                out[bias.name][f"biased_items_{clean[merchant][1]}"] += 1
    return {name: dict(c) for name, c in out.items()}
