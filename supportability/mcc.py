"""Merchant category codes (ISO 18245) in words, from the `iso18245` package's tables (the
ISO list first, then the card networks' names for codes ISO leaves out)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import iso18245


@dataclass(frozen=True)
class MccName:
    code: str
    name: str  # "" when the code is in no table
    group: str  # the ISO 18245 range the code falls in, e.g. "Retail outlets"
    why_unknown: str = ""  # when name is "", why, in words


@functools.lru_cache(maxsize=2048)
def mcc_name(code: str) -> MccName:
    """The name of a four-digit MCC. Never raises: a code in no table says so."""
    if not (isinstance(code, str) and len(code) == 4 and code.isascii() and code.isdigit()):
        return MccName(code=str(code), name="", group="", why_unknown="not a four-digit code")
    try:
        group = iso18245.get_mcc_range(code).description
    except (iso18245.InvalidMCC, RuntimeError):
        group = ""
    try:
        found = iso18245.get_mcc(code)
    except iso18245.MCCNotFound:
        return MccName(
            code=code, name="", group=group, why_unknown="not in the ISO 18245 or network lists"
        )
    name = (
        found.iso_description
        or found.visa_description
        or found.mastercard_description
        or found.stripe_description
        or found.usda_description
        or found.amex_description
    )
    return MccName(code=code, name=name, group=group)
