"""The two kinds of profile the synthetic world draws merchants from.

An ``Archetype`` is an ordinary supportable kind of business (the archetypes themselves are
in ``shops`` and ``trades``; look-alikes of violating categories in ``lookalikes``).

What a violation profile says about a category of violating merchant: the words of an
overt violator, the euphemisms of one that camouflages, the supportable businesses it may
pose as, and how its numbers drift. The profiles themselves are in ``prohibited`` and
``restricted``.

Templates use ``{product}``, ``{product2}``, ``{city}`` and ``{years}``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViolationProfile:
    category: str
    weight: float  # relative frequency among violators
    nouns: tuple[str, ...]
    mccs: tuple[str, ...]
    products: tuple[str, ...]
    overt_descriptions: tuple[str, ...]
    covert_descriptions: tuple[str, ...]
    overt_sentences: tuple[str, ...]
    covert_sentences: tuple[str, ...]
    disguises: tuple[str, ...]  # archetype keys a bland violator poses as
    cnp: float
    refund: float
    dispute: float
    volume: float
    risk: float = 1.0  # mean shift of the latent risk that drives the numbers
    dispute_boost: float = 1.0
    # (country, weight) pairs replacing the usual country mix for this category
    countries: tuple[tuple[str, float], ...] = ()


OFFSHORE_COUNTRIES = (
    ("CY", 1.0),
    ("MT", 1.0),
    ("PA", 0.6),
    ("VG", 0.6),
    ("BZ", 0.4),
    ("CW", 0.5),
    ("GI", 0.4),
)


@dataclass(frozen=True)
class Archetype:
    key: str
    nouns: tuple[str, ...]  # the business part of a name: "Roasters", "Bike Repair"
    mccs: tuple[str, ...]
    products: tuple[str, ...]
    descriptions: tuple[str, ...]
    sentences: tuple[str, ...]
    cnp: float  # typical card-not-present share
    refund: float  # typical refund rate
    dispute: float  # typical dispute (chargeback) rate
    volume: float  # median monthly volume, USD
    weight: float = 1.0  # relative frequency among supportable merchants
