"""Whether a merchant's own words changed enough to look at its decision again.

A decided merchant that rewrites its description or website may have changed business
(a vape shop that now sells "research chemicals"). Typo fixes, punctuation, case and a
reordered sentence should not send it back to the queue; new or dropped words should.
The measure: the Jaccard similarity of the two texts' sets of words (Unicode word
characters, case-folded). A change is material when fewer than MATERIAL_JACCARD of the
words are shared AND at least MIN_WORDS_CHANGED words came or went, so a three-word
description that gains one word is not a new business either.
"""

from __future__ import annotations

import re

MATERIAL_JACCARD = 0.75
MIN_WORDS_CHANGED = 3
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text or "")}


def material_change(before: str, after: str) -> bool:
    """True when `after` is not, in its words, the same text as `before`."""
    old, new = words(before), words(after)
    if old == new:
        return False
    changed = len(old ^ new)
    union = len(old | new)
    return changed >= MIN_WORDS_CHANGED and (union - changed) / union < MATERIAL_JACCARD
