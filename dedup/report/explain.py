"""Which evidence linked a story, or two related stories (``dedup cluster --explain``).

For every story of several articles, each member's strongest link inside the story; for every
pair of related stories, their strongest link across. Each link says what its similarity is
made of (the dense and lexical signals the fusion weighs, see ``dedup.represent.similarity``), which
names, acronyms, numbers and days both articles state, and the day gap's discount: what a
person needs to trust the grouping or to correct it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from dedup.models import Article, Evidence, Report
from dedup.represent.lexical import Profile, profile, shared_evidence
from dedup.represent.similarity import Representations

DIGITS = 4
SHARED_TOP = 8


def _day(day_of_year: int) -> str | None:
    if day_of_year <= 0:
        return None
    return (dt.date(2024, 1, 1) + dt.timedelta(days=int(day_of_year) - 1)).strftime("%m-%d")


def explain_report(
    report: Report, reps: Representations, articles: Sequence[Article]
) -> tuple[Evidence, ...]:
    """The evidence behind the report's stories and related pairs; ``articles[k]`` is row ``k``
    of ``reps``."""
    row = {a.id: k for k, a in enumerate(articles)}
    story_of = {m.article.id: s.id for s in report.stories for m in s.members}
    members = {s.id: [row[m.article.id] for m in s.members] for s in report.stories}
    profiles: dict[int, Profile] = {}

    def prof(k: int) -> Profile:
        if k not in profiles:
            profiles[k] = profile(articles[k])
        return profiles[k]

    def evidence(i: int, j: int) -> Evidence:
        parts, fused, base = reps.components(i, j)
        feats = reps.features([i], [j])
        day = feats["day_factor"][0]
        return Evidence(
            story_a=story_of[articles[i].id],
            story_b=story_of[articles[j].id],
            a=articles[i].id,
            b=articles[j].id,
            similarity=round(float(np.float32(base) * day), DIGITS),  # as Representations.pairs
            base=round(base, DIGITS),
            fused=round(fused, DIGITS),
            same_language=bool(feats["same_lang"][0]),
            components={k: round(v, DIGITS) for k, v in parts.items()},
            shared=tuple(
                (token, round(w, DIGITS))
                for token, w in shared_evidence(prof(i), prof(j), SHARED_TOP)
            ),
            day_a=_day(int(reps.days[i])),
            day_b=_day(int(reps.days[j])),
            day_factor=round(float(day), DIGITS),
        )

    links: list[tuple[int, int]] = []
    for story in report.stories:
        idx = members[story.id]
        if len(idx) < 2:
            continue
        sims = reps.matrix(idx)
        np.fill_diagonal(sims, -np.inf)
        seen: set[tuple[int, int]] = set()
        for k in range(len(idx)):
            best = int(np.argmax(sims[k]))
            key = (min(k, best), max(k, best))
            if key not in seen:
                seen.add(key)
                links.append((idx[key[0]], idx[key[1]]))
    for rel in report.related:
        a, b = members[rel.a], members[rel.b]
        sims = reps.matrix(a + b)[: len(a), len(a) :]
        ka, kb = np.unravel_index(int(np.argmax(sims)), sims.shape)
        links.append((a[int(ka)], b[int(kb)]))
    return tuple(evidence(i, j) for i, j in links)
