"""What `dedup tune` learns from, as :class:`~dedup.tune.train.Example`: two texts as dedup
reads them (cleaned, title and body) and a similarity in [0, 1]."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dedup.evaluate.data import Pair
from dedup.evaluate.runs import clean_pairs
from dedup.tune.train import Example

# A sentence ends at the dev texts' headline break (two spaces) or at a full stop, question or
# exclamation mark (Latin or CJK) followed by a space or the end.
_FIRST = re.compile(r"(.+?)(  |[.!?\u3002\uff01\uff1f](\s|$))", re.DOTALL)

#: A graded pair's ``overall`` runs from 1 (same story) to 4 (unrelated).
GRADES = (1.0, 4.0)


def grade_score(overall: float) -> float:
    """A SemEval grade (1 same story .. 4 unrelated) as a similarity, 1 .. 0."""
    low, high = GRADES
    return (high - overall) / (high - low)


def from_pairs(pairs: Sequence[Pair]) -> list[Example]:
    """One example per pair whose two articles keep usable text after cleaning."""
    cleaned, ends = clean_pairs(pairs)
    text = {a.id: a.full_text for a in cleaned}
    return [
        Example(text[a], text[b], grade_score(p.overall))
        for p, (a, b) in zip(pairs, ends, strict=True)
        if a in text and b in text
    ]


def first_sentence(title: str, text: str) -> str:
    """The first sentence of a text (its headline, where it starts with one): what a short
    item of a news feed looks like (``bench/short_pairs.py``, a tuned model's ``mean_short``)."""
    whole = (f"{title}  {text}" if title else text).strip()
    found = _FIRST.match(whole)
    return (found.group(0) if found else whole).strip()
