"""How violating merchants of each policy category look: the words of an overt violator,
the euphemisms of one that camouflages, the supportable businesses it may pose as, and
how its numbers drift.

Templates use ``{product}``, ``{product2}``, ``{city}`` and ``{years}``.
"""

from __future__ import annotations

from .profiles import OFFSHORE_COUNTRIES, ViolationProfile
from .prohibited import PROHIBITED_PROFILES
from .restricted import RESTRICTED_PROFILES

# Prohibited first, then restricted: the order the synthetic world draws from.
VIOLATION_PROFILES: tuple[ViolationProfile, ...] = PROHIBITED_PROFILES + RESTRICTED_PROFILES

PROFILES_BY_CATEGORY = {p.category: p for p in VIOLATION_PROFILES}

__all__ = ["OFFSHORE_COUNTRIES", "PROFILES_BY_CATEGORY", "VIOLATION_PROFILES", "ViolationProfile"]
