"""Similar past decisions: the index of decided merchants, its queries and its panel."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from supportability.ml.similarity import SimilarityConfig, _top
from supportability.models import AuditEvent, Merchant, SimilarityIndex
from supportability.services import similarity
from supportability.services.similarity import (
    PRUNE_AFTER_SECONDS,
    DecidedMerchant,
    SimilarDecision,
    SimilarPanel,
    _prune,
    similar_decisions,
    similarity_index_build,
)
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

TRADES = [
    ("Bright Bakery", "Fresh sourdough bread, pastries and birthday cakes.", "Order a cake."),
    ("Lucky Spin Casino", "Online slots, roulette and sports betting.", "Bet now, win big."),
    ("Gun Depot", "Rifles, handguns and ammunition shipped nationwide.", "No licence needed."),
    ("Green Leaf Vapes", "Vape pens, grinders and bongs.", "Glass pipes on sale."),
    ("Quick Loans", "Payday loans in minutes, no credit check.", "Cash today."),
    ("Pet Palace", "Dog food, cat toys and aquarium supplies.", "Happy pets."),
]


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(similarity, "_OPENED", {})
    return tmp_path


def decided(merchant: Merchant, decision: str = "prohibited", **fields: Any) -> DecidedMerchant:
    values: dict[str, Any] = {
        "merchant_id": merchant.pk,
        "external_id": merchant.external_id,
        "name": merchant.name,
        "country": merchant.country,
        "mcc": merchant.mcc,
        "description": merchant.description,
        "website_text": merchant.website_text,
        "refund_rate": merchant.refund_rate,
        "dispute_rate": merchant.dispute_rate,
        "cnp_share": merchant.cnp_share,
        "account_age_days": merchant.account_age_days,
        "monthly_volume": merchant.monthly_volume,
        "decision": decision,
        "category_name": "Gambling",
        "rationale": "Real-money betting without a licence.",
        "decided_at": datetime(2025, 3, 1, 12, tzinfo=UTC),
    }
    return DecidedMerchant(**(values | fields))


def world(copies: int = 4) -> list[Merchant]:
    """A few merchants of each trade, with varied numbers."""
    rng = np.random.default_rng(0)
    return [
        MerchantFactory.create(
            name=f"{name} {i}",
            description=description,
            website_text=website,
            refund_rate=float(rng.uniform(0, 0.1)),
            monthly_volume=float(rng.lognormal(9, 1)),
        )
        for name, description, website in TRADES
        for i in range(copies)
    ]


def casino_under_review() -> Merchant:
    return MerchantFactory.create(
        name="Lucky Spin Casino 7",
        description="Online slots, roulette and sports betting.",
        website_text="Bet now, win big.",
    )


def test_a_near_identical_decided_merchant_is_among_the_five_nearest() -> None:
    merchants = world()
    twin = MerchantFactory.create(
        name="Lucky Spin Casino 7",
        description="Online slots, roulette and sports betting!",
        website_text="Bet now, win big.",
    )
    similarity_index_build(rows=[decided(m) for m in [*merchants, twin]])

    panel = similar_decisions(merchant=casino_under_review())

    ids = [n.merchant_id for n in panel.neighbours]
    assert len(ids) == 5
    assert ids[0] == twin.pk
    assert panel.unavailable == ""


def test_neighbours_carry_the_decision_category_rationale_and_date() -> None:
    twin = MerchantFactory.create(name="Lucky Spin Casino", description="Online slots.")
    similarity_index_build(rows=[decided(twin, decision="restricted")])

    (neighbour,) = similar_decisions(merchant=casino_under_review()).neighbours

    assert (neighbour.decision, neighbour.decision_label) == ("restricted", "Restricted")
    assert neighbour.category_name == "Gambling"
    assert neighbour.rationale == "Real-money betting without a licence."
    assert neighbour.decided_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert 0.0 <= neighbour.similarity <= 1.0


def test_the_merchant_under_review_is_never_its_own_neighbour() -> None:
    merchants = world(copies=1)
    similarity_index_build(rows=[decided(m) for m in merchants])

    panel = similar_decisions(merchant=merchants[1])

    assert merchants[1].pk not in [n.merchant_id for n in panel.neighbours]
    assert len(panel.neighbours) == 5


def test_a_merchant_left_out_of_the_build_never_appears() -> None:
    merchants = world(copies=1)
    undecided = MerchantFactory.create(name="Lucky Spin Casino 7", description="Online slots.")
    similarity_index_build(rows=[decided(m) for m in merchants])

    panel = similar_decisions(merchant=casino_under_review())

    assert undecided.pk not in [n.merchant_id for n in panel.neighbours]


def test_without_an_index_the_panel_says_the_next_retraining_builds_it() -> None:
    panel = similar_decisions(merchant=casino_under_review())

    assert panel.neighbours == []
    assert panel.unavailable == "No index yet: the next retraining builds it"


def test_no_decided_merchants_build_no_index() -> None:
    assert similarity_index_build(rows=[]) is None
    assert not SimilarityIndex.objects.exists()


def test_an_index_holding_only_the_merchant_itself_says_none_other_is_decided() -> None:
    merchant = casino_under_review()
    similarity_index_build(rows=[decided(merchant)])

    panel = similar_decisions(merchant=merchant)

    assert panel.neighbours == []
    assert panel.unavailable == "No other merchant has been decided yet."


def test_missing_index_files_give_a_reason_not_an_error(var_dir: Path) -> None:
    index = similarity_index_build(rows=[decided(m) for m in world(copies=1)])
    assert index is not None
    (var_dir / index.location / "vectors.npy").unlink()

    panel = similar_decisions(merchant=casino_under_review())

    assert panel.neighbours == []
    assert "the index its files are missing" in panel.unavailable
    assert "The next retraining rebuilds it." in panel.unavailable


def test_altered_index_files_fail_the_checksum_and_give_a_reason(var_dir: Path) -> None:
    index = similarity_index_build(rows=[decided(m) for m in world(copies=1)])
    assert index is not None
    vectors = var_dir / index.location / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-4:] = b"\x00\x00\x80\x7f"  # the last number becomes infinity
    vectors.write_bytes(bytes(data))

    panel = similar_decisions(merchant=casino_under_review())

    assert panel.neighbours == []
    assert "do not match their checksum" in panel.unavailable


def test_building_twice_from_the_same_decisions_gives_the_same_index() -> None:
    rows = [decided(m) for m in world()]
    first = similarity_index_build(rows=rows)
    before = similar_decisions(merchant=casino_under_review())

    second = similarity_index_build(rows=list(reversed(rows)))

    assert second == first
    assert SimilarityIndex.objects.count() == 1
    assert similar_decisions(merchant=casino_under_review()) == before


def test_a_rebuild_after_files_went_missing_writes_them_again(var_dir: Path) -> None:
    rows = [decided(m) for m in world(copies=1)]
    first = similarity_index_build(rows=rows)
    assert first is not None
    for path in (var_dir / first.location).iterdir():
        path.unlink()

    second = similarity_index_build(rows=rows)

    assert second is not None and second.pk != first.pk
    assert similar_decisions(merchant=casino_under_review()).neighbours


def test_a_build_records_one_audit_event_with_the_count() -> None:
    index = similarity_index_build(rows=[decided(m) for m in world()])
    assert index is not None

    (event,) = AuditEvent.objects.filter(verb="similarity_index.build")

    assert event.object_id == str(index.pk)
    assert event.after is not None and event.after["decided_merchants"] == 24
    assert index.size == 24


def test_only_the_newest_indexes_keep_their_files(var_dir: Path) -> None:
    merchants = world(copies=1)
    built = [
        similarity_index_build(rows=[decided(m) for m in merchants[: 2 + i]]) for i in range(3)
    ]
    # Young folders stay (a concurrent build may not have committed its row yet)...
    assert len(list((var_dir / "similarity").iterdir())) == 3
    # ...and go once they are old enough.
    _prune(now=time.time() + PRUNE_AFTER_SECONDS + 1)

    kept = {p.name for p in (var_dir / "similarity").iterdir()}

    assert kept == {Path(i.location).name for i in built[1:] if i is not None}


def test_top_k_from_block_maxima_equals_a_full_sort() -> None:
    scores = np.random.default_rng(3).standard_normal(10_007).astype(np.float32)

    found = _top(scores, 6, block=64)

    assert list(found) == list(np.argsort(-scores, kind="stable")[:6])


def neighbour(**fields: Any) -> SimilarDecision:
    values: dict[str, Any] = {
        "merchant_id": 42,
        "external_id": "M000042",
        "name": "Spin City",
        "decision": "prohibited",
        "decision_label": "Prohibited",
        "category_name": "Gambling",
        "rationale": "Unlicensed online casino.",
        "decided_at": datetime(2025, 3, 1, tzinfo=UTC),
        "similarity": 0.91,
    }
    return SimilarDecision(**(values | fields))


def test_the_panel_shows_each_decision_with_a_link_to_its_timeline() -> None:
    html = render_to_string("labeling/_similar.html", {"similar": SimilarPanel([neighbour()])})

    assert "Similar past decisions" in html
    assert f'href="{reverse("review:merchant", args=[42])}"' in html
    for shown in ("Spin City", "Prohibited", "Gambling", "Unlicensed online casino.", "0.91"):
        assert shown in html
    assert "1 Mar 2025" in html


def test_the_panel_renders_merchant_text_and_rationale_inert() -> None:
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    html = render_to_string(
        "labeling/_similar.html",
        {"similar": SimilarPanel([neighbour(name=payload, rationale=payload * 20)])},
    )

    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_panel_keeps_the_full_rationale_when_it_shortens_it() -> None:
    long = "word " * 100
    html = render_to_string(
        "labeling/_similar.html", {"similar": SimilarPanel([neighbour(rationale=long)])}
    )

    assert f'title="{long}"' in html
    assert "…" in html


def test_the_panel_says_why_it_is_empty() -> None:
    html = render_to_string(
        "labeling/_similar.html", {"similar": SimilarPanel(unavailable="No index yet: soon")}
    )

    assert "No index yet: soon" in html


def test_a_large_index_read_through_its_nearest_lists_still_finds_the_twin() -> None:
    merchants = world(copies=10)
    twin = MerchantFactory.create(
        name="Lucky Spin Casino 7",
        description="Online slots, roulette and sports betting!",
        website_text="Bet now, win big.",
    )
    config = SimilarityConfig(lists_from=20, probes=2)  # 61 rows in 7 lists, 2 read
    similarity_index_build(rows=[decided(m) for m in [*merchants, twin]], config=config)

    panel = similar_decisions(merchant=casino_under_review())

    assert panel.neighbours[0].merchant_id == twin.pk
