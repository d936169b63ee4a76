"""Ordinary supportable kinds of business the synthetic world draws from (look-alikes of
violating categories live in ``lookalikes``).

Templates use ``{product}``, ``{product2}``, ``{city}`` and ``{years}``.
"""

from __future__ import annotations

from .profiles import Archetype
from .shops import SHOP_ARCHETYPES
from .trades import SERVICE_ARCHETYPES

# The order the synthetic world draws archetypes in: changing it changes every seeded world.
DRAW_ORDER = (
    "coffee-shop",
    "bakery",
    "saas",
    "bike-repair",
    "tutoring",
    "apparel",
    "electronics",
    "travel-agency",
    "florist",
    "bookstore",
    "yoga-studio",
    "plumbing",
    "web-agency",
    "pet-grooming",
    "restaurant",
    "photography",
    "furniture",
    "cosmetics",
    "grocery",
    "accounting",
    "hardware-store",
    "music-lessons",
    "meal-kits",
    "toy-store",
    "language-school",
    "printing",
    "car-wash",
)

_BY_KEY = {a.key: a for a in SHOP_ARCHETYPES + SERVICE_ARCHETYPES}
SUPPORTABLE_ARCHETYPES: tuple[Archetype, ...] = tuple(_BY_KEY[key] for key in DRAW_ORDER)

__all__ = ["DRAW_ORDER", "SUPPORTABLE_ARCHETYPES", "Archetype"]
