"""Policy categories the model predicts, and the decision each one implies.

The slugs match the ``policy_categories`` fixture of the Django app.
"""

from __future__ import annotations

SUPPORTABLE = "supportable"
RESTRICTED = "restricted"
PROHIBITED = "prohibited"
UNSURE = "unsure"

DECISIONS = (SUPPORTABLE, RESTRICTED, PROHIBITED, UNSURE)
VIOLATING_DECISIONS = frozenset({RESTRICTED, PROHIBITED})

NO_CATEGORY = "none"

PROHIBITED_CATEGORIES = (
    "adult-content",
    "weapons",
    "drugs",
    "pseudo-pharmaceuticals",
    "counterfeit-goods",
    "pyramid-schemes",
    "sanctioned-jurisdictions",
)
RESTRICTED_CATEGORIES = (
    "gambling",
    "unlicensed-financial-services",
    "high-chargeback",
)
VIOLATION_CATEGORIES = PROHIBITED_CATEGORIES + RESTRICTED_CATEGORIES
ALL_CATEGORIES = (NO_CATEGORY, *VIOLATION_CATEGORIES)


def decision_for_category(slug: str) -> str:
    """The decision a category implies: "prohibited", "restricted" or "supportable".

    Raises ``ValueError`` for a slug outside the taxonomy.
    """
    if slug in PROHIBITED_CATEGORIES:
        return PROHIBITED
    if slug in RESTRICTED_CATEGORIES:
        return RESTRICTED
    if slug == NO_CATEGORY:
        return SUPPORTABLE
    raise ValueError(f"unknown policy category slug: {slug!r}")
