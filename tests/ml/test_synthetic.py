from __future__ import annotations

import re
from collections import Counter
from statistics import median

import pytest

from supportability.ml.synthetic import generate_merchants
from supportability.ml.synthetic.merchants import SyntheticMerchant
from supportability.ml.taxonomy import (
    PROHIBITED_CATEGORIES,
    RESTRICTED_CATEGORIES,
    VIOLATION_CATEGORIES,
    decision_for_category,
)


def _violating(merchants: list[SyntheticMerchant]) -> list[SyntheticMerchant]:
    return [m for m in merchants if m.true_decision != "supportable"]


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate_merchants(60, seed=3) == generate_merchants(60, seed=3)


def test_generation_differs_across_seeds() -> None:
    first, second = generate_merchants(60, seed=3), generate_merchants(60, seed=4)
    assert [m.website_text for m in first] != [m.website_text for m in second]
    assert not {m.external_id for m in first} & {m.external_id for m in second}


def test_merchant_depends_only_on_seed_and_index() -> None:
    assert generate_merchants(100, seed=2)[:40] == generate_merchants(40, seed=2)


def test_external_ids_are_unique_and_stable() -> None:
    merchants = generate_merchants(300)
    assert len({m.external_id for m in merchants}) == 300
    assert merchants[123].external_id == "M000123"
    assert generate_merchants(2, seed=7)[1].external_id == "M000001-S7"


def test_prevalence_is_close_to_the_requested_share(world_5000: list[SyntheticMerchant]) -> None:
    share = len(_violating(world_5000)) / len(world_5000)
    assert abs(share - 0.05) < 0.015


def test_prevalence_parameter_is_honoured() -> None:
    merchants = generate_merchants(2_000, seed=9, prevalence=0.2)
    assert abs(len(_violating(merchants)) / 2_000 - 0.2) < 0.03
    assert not _violating(generate_merchants(300, prevalence=0.0))


def test_every_category_appears(world_5000: list[SyntheticMerchant]) -> None:
    present = {m.true_category for m in world_5000}
    assert present == {"none", *VIOLATION_CATEGORIES}


def test_restricted_categories_are_more_common(world_5000: list[SyntheticMerchant]) -> None:
    counts = Counter(m.true_category for m in world_5000)
    restricted = sum(counts[c] for c in RESTRICTED_CATEGORIES) / len(RESTRICTED_CATEGORIES)
    prohibited = sum(counts[c] for c in PROHIBITED_CATEGORIES) / len(PROHIBITED_CATEGORIES)
    assert restricted > prohibited


def test_category_is_none_iff_supportable(world_5000: list[SyntheticMerchant]) -> None:
    for m in world_5000:
        assert (m.true_category == "none") == (m.true_decision == "supportable")
        assert m.true_decision == decision_for_category(m.true_category)


def test_fields_are_in_range(world_5000: list[SyntheticMerchant]) -> None:
    for m in world_5000:
        assert 0.0 <= m.refund_rate <= 1.0
        assert 0.0 <= m.dispute_rate <= 1.0
        assert 0.0 <= m.cnp_share <= 1.0
        assert isinstance(m.account_age_days, int) and m.account_age_days >= 1
        assert m.monthly_volume >= 0.0
        assert re.fullmatch(r"[A-Z]{2}", m.country)
        assert re.fullmatch(r"\d{4}", m.mcc)
        assert re.fullmatch(r"https://[a-z0-9-]+\.(example|test)", m.url)
        assert m.name and m.description and m.website_text


def test_violators_have_riskier_numbers(world_5000: list[SyntheticMerchant]) -> None:
    bad = _violating(world_5000)
    good = [m for m in world_5000 if m.true_decision == "supportable"]
    assert median(m.dispute_rate for m in bad) > 2 * median(m.dispute_rate for m in good)
    assert median(m.account_age_days for m in bad) < median(m.account_age_days for m in good)
    # ...but the classes overlap: plenty of violators look numerically ordinary
    good_disputes = sorted(m.dispute_rate for m in good)
    typical = good_disputes[int(0.9 * len(good_disputes))]
    assert sum(m.dispute_rate <= typical for m in bad) > 0.1 * len(bad)


def test_sanctioned_merchants_mostly_sit_in_sanctioned_countries() -> None:
    merchants = generate_merchants(1_500, seed=4, prevalence=1.0)
    sanctioned = [m for m in merchants if m.true_category == "sanctioned-jurisdictions"]
    in_jurisdiction = [m for m in sanctioned if m.country in {"IR", "KP", "SY", "CU"}]
    assert len(sanctioned) > 30
    assert len(in_jurisdiction) > 0.5 * len(sanctioned)


@pytest.mark.parametrize(
    "word", ["casino", "supplements", "prescription", "brokerage", "collectibles", "crypto"]
)
def test_risky_words_also_appear_in_supportable_merchants(
    world_5000: list[SyntheticMerchant], word: str
) -> None:
    def mentions(m: SyntheticMerchant) -> bool:
        return word in f"{m.name} {m.description} {m.website_text}".lower()

    assert any(mentions(m) for m in world_5000 if m.true_decision == "supportable")
    assert any(mentions(m) for m in _violating(world_5000))


def test_some_merchant_text_carries_markup_to_escape() -> None:
    merchants = generate_merchants(200)
    assert any("<script>alert(1)</script>" in m.website_text for m in merchants)
    assert any("onerror=" in m.description for m in merchants)


def test_names_include_characters_that_need_escaping(
    world_5000: list[SyntheticMerchant],
) -> None:
    names = [m.name for m in world_5000]
    for character in ("&", '"', "<", "'"):
        assert any(character in name for name in names), character


def test_names_are_varied(world_5000: list[SyntheticMerchant]) -> None:
    assert len({m.name for m in world_5000}) > 0.8 * len(world_5000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, "n must be"),
        ({"n": 5, "seed": -1}, "seed must be"),
        ({"n": 5, "prevalence": 1.5}, "prevalence must be"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_merchants(**kwargs)  # type: ignore[arg-type]
