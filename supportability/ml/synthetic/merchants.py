"""Generate synthetic merchants whose ground truth is known.

Each merchant is drawn from its own random stream seeded by ``(seed, index)``, so merchant
``i`` is the same whatever ``n`` is, and ``generate_merchants(100)`` is a prefix of
``generate_merchants(1000)``.

Merchant text is untrusted input in the real world, so a few synthetic merchants carry
markup (``<script>alert(1)</script>``, quotes, ampersands) that the app must escape.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..taxonomy import NO_CATEGORY, decision_for_category
from .archetypes import SUPPORTABLE_ARCHETYPES, Archetype
from .geography import CITIES, COUNTRY_WEIGHTS
from .lookalikes import LOOKALIKE_ARCHETYPES
from .naming import NAME_PREFIXES, NAME_SUFFIXES, SURNAMES
from .violations import VIOLATION_PROFILES, ViolationProfile


@dataclass(frozen=True)
class SyntheticMerchant:
    external_id: str
    name: str
    country: str  # ISO-3166 alpha-2
    mcc: str
    url: str
    description: str
    website_text: str
    refund_rate: float
    dispute_rate: float
    cnp_share: float
    account_age_days: int
    monthly_volume: float  # USD
    true_decision: str  # supportable | restricted | prohibited
    true_category: str  # taxonomy slug; "none" iff supportable


GENERIC_SENTENCES = (
    "We accept all major credit cards.",
    "Secure checkout powered by a PCI-compliant provider.",
    "Follow us on Instagram for news and offers.",
    "Customer satisfaction is our top priority.",
    "Our team has over {years} years of experience.",
    "Free shipping on orders over $50.",
    "Sign up for our newsletter and get 10% off your first order.",
    "Gift cards are available online and in store.",
    "Read our privacy policy and terms & conditions.",
    'Rated "excellent" by over 2,000 customers.',
    "Made with <3 in {city}.",
    "We ship worldwide with tracked delivery.",
    "Prices include VAT where applicable.",
    "Enter our monthly sweepstakes to win a $100 gift card.",
    "Questions? Chat with us 9am-5pm, Monday to Friday.",
    "Orders & returns are handled within 2 business days.",
    "Limited time offer: save 20% this week only.",
    "Discreet, fast delivery to your door.",
)

# Untrusted-markup samples, placed by index so every demo world of ~100+ merchants has them.
SCRIPT_SNIPPET = "Leave us a review! <script>alert(1)</script>"
ATTRIBUTE_SNIPPET = 'Visit us "today" & save <img src=x onerror=alert(1)>'
_SCRIPT_PERIOD, _SCRIPT_OFFSET, _ATTRIBUTE_OFFSET = 97, 41, 88

_MODES = ("overt", "covert", "bland")
_MODE_WEIGHTS = (0.3, 0.45, 0.25)


def _cumulative(weights: Sequence[float]) -> np.ndarray:
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cum / cum[-1]


_SUPPORTABLE_POOL: tuple[Archetype, ...] = SUPPORTABLE_ARCHETYPES + LOOKALIKE_ARCHETYPES
ARCHETYPES_BY_KEY = {a.key: a for a in _SUPPORTABLE_POOL}
_SUPPORTABLE_CUM = _cumulative([a.weight for a in _SUPPORTABLE_POOL])
_PROFILE_CUM = _cumulative([p.weight for p in VIOLATION_PROFILES])
_MODE_CUM = _cumulative(_MODE_WEIGHTS)
_COUNTRY_CUM = _cumulative([w for _, w in COUNTRY_WEIGHTS])


def generate_merchants(
    n: int, *, seed: int = 0, prevalence: float = 0.05
) -> list[SyntheticMerchant]:
    """``n`` synthetic merchants; about ``prevalence`` of them violate policy.

    Deterministic for ``(seed, index)``. External ids are ``M000123`` for seed 0 and
    ``M000123-S7`` for seed 7, so worlds from different seeds never collide.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be within [0, 1], got {prevalence}")
    return [_merchant(seed, index, prevalence) for index in range(n)]


def _merchant(seed: int, index: int, prevalence: float) -> SyntheticMerchant:
    rng = np.random.default_rng((seed, index))
    profile: ViolationProfile | None = None
    mode = "supportable"
    if rng.random() < prevalence:
        profile = VIOLATION_PROFILES[_draw(rng, _PROFILE_CUM)]
        mode = _MODES[_draw(rng, _MODE_CUM)]

    archetype = _SUPPORTABLE_POOL[_draw(rng, _SUPPORTABLE_CUM)]
    if profile is not None:
        archetype = ARCHETYPES_BY_KEY[_pick(rng, profile.disguises)]

    country = _country(rng, profile)
    city = _pick(rng, CITIES.get(country, ("the city centre",)))
    years = int(rng.integers(3, 26))
    text_source: Archetype | ViolationProfile = archetype
    if profile is not None and mode != "bland":
        text_source = profile
    products = text_source.products
    product, product2 = (_sample(rng, products, 2) * 2)[:2]
    fill = {
        "product": product,
        "product2": product2,
        "city": city,
        "years": years,
    }

    name = _name(rng, text_source.nouns)
    description, website_text = _texts(rng, archetype, profile, mode, fill)
    if index % _SCRIPT_PERIOD == _SCRIPT_OFFSET:
        website_text = f"{website_text} {SCRIPT_SNIPPET}"
    elif index % _SCRIPT_PERIOD == _ATTRIBUTE_OFFSET:
        description = f"{description} {ATTRIBUTE_SNIPPET}"

    refund, dispute, cnp, age, volume = _numbers(rng, archetype, profile, mode)
    category = profile.category if profile is not None else NO_CATEGORY
    tld = "test" if rng.random() < 0.2 else "example"
    return SyntheticMerchant(
        external_id=f"M{index:06d}" if seed == 0 else f"M{index:06d}-S{seed}",
        name=name,
        country=country,
        mcc=_pick(rng, text_source.mccs),
        url=f"https://{_slug(name, index)}.{tld}",
        description=description,
        website_text=website_text,
        refund_rate=refund,
        dispute_rate=dispute,
        cnp_share=cnp,
        account_age_days=age,
        monthly_volume=volume,
        true_decision=decision_for_category(category),
        true_category=category,
    )


def _draw(rng: np.random.Generator, cumulative: np.ndarray) -> int:
    return int(np.searchsorted(cumulative, rng.random(), side="right"))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[min(int(rng.random() * len(options)), len(options) - 1)]


def _country(rng: np.random.Generator, profile: ViolationProfile | None) -> str:
    if profile is not None and profile.countries:
        # sanctioned traders mostly sit in the jurisdiction; others partly offshore
        share = 1.0 if profile.category == "sanctioned-jurisdictions" else 0.35
        if rng.random() < share:
            countries = [c for c, _ in profile.countries]
            return countries[_draw(rng, _cumulative([w for _, w in profile.countries]))]
    return COUNTRY_WEIGHTS[_draw(rng, _COUNTRY_CUM)][0]


def _name(rng: np.random.Generator, nouns: Sequence[str]) -> str:
    noun = _pick(rng, nouns)
    form = rng.random()
    if form < 0.45:
        name = f"{_pick(rng, NAME_PREFIXES)} {noun}"
    elif form < 0.7:
        name = f"{_pick(rng, SURNAMES)} {noun}"
    elif form < 0.8:
        name = f"{_pick(rng, SURNAMES)} & {_pick(rng, SURNAMES)} {noun}"
    elif form < 0.95:
        name = f"The {_pick(rng, NAME_PREFIXES)} {noun}"
    elif form < 0.98:
        name = f'"{_pick(rng, NAME_PREFIXES)}" {noun}'
    else:
        name = f"{_pick(rng, NAME_PREFIXES)} {noun} <Online>"
    return name + _pick(rng, NAME_SUFFIXES)


def _texts(
    rng: np.random.Generator,
    archetype: Archetype,
    profile: ViolationProfile | None,
    mode: str,
    fill: dict[str, object],
) -> tuple[str, str]:
    if profile is None or mode == "bland":
        description = _pick(rng, archetype.descriptions)
        sentences = _sample(rng, archetype.sentences, int(rng.integers(2, 5)))
    elif mode == "overt":
        pool = profile.overt_descriptions if rng.random() < 0.7 else profile.covert_descriptions
        description = _pick(rng, pool)
        sentences = _sample(rng, profile.overt_sentences, int(rng.integers(1, 3)))
        sentences += _sample(rng, profile.covert_sentences, int(rng.integers(0, 3)))
    else:
        description = _pick(rng, profile.covert_descriptions)
        sentences = _sample(rng, profile.covert_sentences, int(rng.integers(1, 4)))
        # camouflage: borrow a sentence from the business it pretends to be
        if rng.random() < 0.6:
            sentences += _sample(rng, archetype.sentences, 1)

    sentences += _sample(rng, GENERIC_SENTENCES, int(rng.integers(1, 3)))
    sentences = list(dict.fromkeys(sentences))  # pools overlap: no sentence twice
    rng.shuffle(sentences)
    sentences = sentences[:6]
    while len(sentences) < 3:
        sentences.append(_pick(rng, GENERIC_SENTENCES))

    if rng.random() < 0.4:
        extra = (
            archetype.sentences
            if profile is None or mode == "bland"
            else (profile.covert_sentences)
        )
        description = f"{description} {_pick(rng, extra)}"
    if rng.random() < 0.01:
        sentences.append("We're <b>open</b> late on Fridays & Saturdays.")
    return _render(description, fill), " ".join(_render(s, fill) for s in sentences)


def _sample(rng: np.random.Generator, options: Sequence[str], k: int) -> list[str]:
    order = np.argsort(rng.random(len(options)))[: min(k, len(options))]
    return [options[int(i)] for i in order]


def _render(template: str, fill: dict[str, object]) -> str:
    text = template.format(**fill)
    return text[:1].upper() + text[1:]


def _numbers(
    rng: np.random.Generator,
    archetype: Archetype,
    profile: ViolationProfile | None,
    mode: str,
) -> tuple[float, float, float, int, float]:
    """Risky merchants refund, dispute and sell online more, and are younger; a latent
    risk drives all of it, with noise so the classes overlap."""
    base: Archetype | ViolationProfile = archetype
    boost = 1.0
    if profile is None:
        risk = rng.normal(0.0, 0.65)
    else:
        risk = rng.normal(profile.risk, 0.75)
        boost = profile.dispute_boost
        if mode != "bland":
            base = profile
    refund = base.refund * math.exp(0.45 * risk + rng.normal(0.0, 0.5))
    dispute = base.dispute * boost * math.exp(0.55 * risk + rng.normal(0.0, 0.6))
    cnp_logit = math.log(base.cnp / (1.0 - base.cnp)) + 0.4 * risk + rng.normal(0.0, 0.5)
    age = math.exp(rng.normal(math.log(1000.0) - 0.5 * risk, 0.9))
    volume = math.exp(rng.normal(math.log(base.volume) + 0.2 * risk, 1.1))
    return (
        round(min(max(refund, 0.0), 0.95), 5),
        round(min(max(dispute, 0.0), 0.5), 5),
        round(1.0 / (1.0 + math.exp(-cnp_logit)), 4),
        int(min(max(age, 1.0), 9000.0)),
        round(volume, 2),
    )


def _slug(name: str, index: int) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return slug or f"merchant-{index}"
