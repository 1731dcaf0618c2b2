"""The tail of a page: where related-headline lists, section markers or a block in another
language begin, after which nothing is article body."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

from dedup.clean.language import _Foreign
from dedup.clean.paragraphs import _Para, _substantial

_BYLINE = re.compile(r"^[^|]{1,60}\|$")


def _is_label(p: _Para, counts: Counter[str]) -> bool:
    """A byline ("Thanh Hà |") or a category label that recurs ("Politics")."""
    if _BYLINE.match(p.text) and p.words <= 6:
        return True
    return p.words <= 4 and not p.prose and counts[p.key] >= 2 and p.has_letters(1)


def _list_start(paras: Sequence[_Para], lead: int, end: int) -> int:
    """Start of a related-headline list: headlines each followed by a byline or label."""
    counts = Counter(p.key for p in paras)
    units = [
        i for i in range(lead + 1, end - 1) if paras[i].headline and _is_label(paras[i + 1], counts)
    ]
    for first, second in pairwise(units):
        if second - first <= 5:
            start = first
            # Headlines with a teaser and no byline just before belong to the same list.
            while (
                start - 2 > lead
                and paras[start - 2].headline
                and paras[start - 1].prose
                and paras[start - 1].words <= 60
            ):
                start -= 2
            return start
    return end


def _marker_cut(paras: Sequence[_Para], lead: int, end: int) -> int:
    for i in range(lead + 1, end):
        if paras[i].marker:
            # A "Read more" inside the body is followed by more body: several long
            # paragraphs in a row. A list after a marker alternates headlines and teasers.
            run = longest = 0
            for q in paras[i + 1 : end]:
                run = run + 1 if _substantial(q) and q.words >= 25 else 0
                longest = max(longest, run)
            if longest < 3:
                return i
    return end


def _language_cut(paras: Sequence[_Para], lead: int, end: int, foreign: _Foreign) -> int:
    """Start of a block in another language that fills most of what follows it."""
    for i in range(lead + 1, end):
        if not foreign(i):
            continue
        nxt = next((j for j in range(i + 1, end) if foreign(j) is not None), None)
        if nxt is None or not foreign(nxt):
            continue
        foreign_letters = sum(paras[j].letters for j in range(i, end) if foreign(j))
        if foreign_letters >= 0.5 * sum(paras[j].letters for j in range(i, end)):
            return i
    return end
