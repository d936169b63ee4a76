"""The merchant's own words that drove the score, found in place: a pure function that cuts
a text into plain and highlighted segments. The template renders each segment escaped
(never as markup), so a term or a text full of tags still shows as text."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

# The model's tokenizer (scikit-learn's default token_pattern, lower-cased): a term of the
# explanation is one token or two adjacent tokens of this kind.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Segment:
    text: str
    term: str = ""  # the explanation term this span matches; "" for plain text
    rank: int = 0  # the term's place in the explanation (1 = raised the score most)


def highlight(text: str, terms: Sequence[str]) -> list[Segment]:
    """`text` cut into segments, every occurrence of a term marked with the term and its
    rank. Terms are matched as the model reads them: whole tokens, case-insensitive, the
    words of an n-gram adjacent (whatever punctuation lies between). A span already marked
    by a higher-ranked term is not marked again. The segments' texts join to `text`."""
    if not text:
        return []
    tokens = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
    starts: dict[str, list[int]] = {}
    for position, (_, _, word) in enumerate(tokens):
        starts.setdefault(word, []).append(position)
    taken = [False] * len(tokens)
    spans: list[tuple[int, int, str, int]] = []
    for rank, term in enumerate(terms, start=1):
        words = term.lower().split()
        if not words:
            continue
        for first in starts.get(words[0], ()):
            last = first + len(words)
            if last > len(tokens) or any(taken[first:last]):
                continue
            if all(tokens[first + k][2] == word for k, word in enumerate(words)):
                taken[first:last] = [True] * len(words)
                spans.append((tokens[first][0], tokens[last - 1][1], term, rank))
    spans.sort()
    segments: list[Segment] = []
    cursor = 0
    for start, end, term, rank in spans:
        if start > cursor:
            segments.append(Segment(text[cursor:start]))
        segments.append(Segment(text[start:end], term=term, rank=rank))
        cursor = end
    if cursor < len(text):
        segments.append(Segment(text[cursor:]))
    return segments


def terms_in(text: str, terms: Sequence[str]) -> set[str]:
    """The terms that occur in `text` as the model reads it, marked or not (a phrase whose
    first word a higher-ranked term already marks is still there)."""
    words = [m.group().lower() for m in _TOKEN.finditer(text or "")]
    grams = set(words) | {f"{a} {b}" for a, b in itertools.pairwise(words)}
    return {term for term in terms if " ".join(term.lower().split()) in grams}
