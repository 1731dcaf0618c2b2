"""The report as a document: ``report.json`` and ``stories.jsonl``, with the one rounding rule.

Every writer is a pure function of the report; none touches the disk. Numbers are rounded by
:func:`rounded` (similarities to 4 places, timings to 3) so that the same run gives
byte-identical files on every platform; the HTML page rounds its heatmaps with it too.

The layouts of `report.json` and `stories.jsonl` are documented in README.md ("JSON
schema"); change both together, and bump SCHEMA_VERSION when a key changes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from dedup.models import Article, Evidence, Member, Report, Selection, Story
from dedup.report.text import one_line, selection_note

SCHEMA_VERSION: str = "1"

SIM_PLACES = 4
TIME_PLACES = 3


def rounded(value: float | None, places: int) -> float | None:
    """A plain float rounded for stable output; ``None`` for a missing or non-finite value."""
    if value is None:
        return None
    number = float(value)  # numpy scalars become plain floats
    if not math.isfinite(number):
        return None
    return round(number, places) + 0.0  # + 0.0 turns -0.0 into 0.0


def iso_day(day: dt.date | None) -> str | None:
    """A day as ``YYYY-MM-DD``; ``None`` for no day."""
    return day.isoformat() if day else None


# ---------------------------------------------------------------------------------------------
# report.json


def _language_counts(stories: Iterable[Story]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for story in stories:
        counts.update(story.languages)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _article_summary(article: Article) -> dict[str, Any]:
    """The article fields report.json and stories.jsonl share, so the two never drift apart."""
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "lang": article.lang,
        "published": iso_day(article.published),
        # A date read from the text, never a publication date (see dedup.clean.dating).
        "inferred_date": iso_day(article.inferred),
        "inferred_from": article.inferred_from if article.inferred else None,
        "url": article.url,
    }


def _member_dict(member: Member) -> dict[str, Any]:
    return {
        **_article_summary(member.article),
        "origin": member.article.origin,
        "similarity": rounded(member.similarity, SIM_PLACES),
    }


def _cohesion(story: Story) -> dict[str, float | None] | None:
    if story.size < 2 or (story.cohesion_min is None and story.cohesion_mean is None):
        return None
    return {
        "min": rounded(story.cohesion_min, SIM_PLACES),
        "mean": rounded(story.cohesion_mean, SIM_PLACES),
    }


def _story_summary(story: Story) -> dict[str, Any]:
    """The fields report.json and stories.jsonl share, so the two never drift apart."""
    return {
        "headline": story.headline,
        "size": story.size,
        "languages": story.languages,
        "sources": story.sources,
        "first_date": iso_day(story.first_date),
        "last_date": iso_day(story.last_date),
        "cross_language": story.cross_language,
    }


def _stored(story: Story) -> dict[str, Any]:
    """A stored story's life (``dedup cluster --store``); nothing for a batch run's."""
    if story.status is None:
        return {}
    return {
        "status": story.status,
        "changed": story.changed,
        "first_seen": story.first_seen,
        "last_seen": story.last_seen,
        "merged_from": list(story.merged_from),
    }


def _story_dict(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        **_story_summary(story),
        **_stored(story),
        "cohesion": _cohesion(story),
        "members": [_member_dict(m) for m in story.members],
    }


def _evidence_dict(ev: Evidence) -> dict[str, Any]:
    return {
        "stories": [ev.story_a, ev.story_b],
        "a": ev.a,
        "b": ev.b,
        "similarity": rounded(ev.similarity, SIM_PLACES),
        "base": rounded(ev.base, SIM_PLACES),
        "fused": rounded(ev.fused, SIM_PLACES),
        "same_language": ev.same_language,
        "components": {k: rounded(v, SIM_PLACES) for k, v in ev.components.items()},
        "shared": [{"token": t, "weight": rounded(w, SIM_PLACES)} for t, w in ev.shared],
        "days": {"a": ev.day_a, "b": ev.day_b, "factor": rounded(ev.day_factor, SIM_PLACES)},
    }


def _summary(report: Report) -> dict[str, Any]:
    return {
        "articles": report.articles,
        "stories": len(report.stories),
        "multi_article_stories": len(report.multi),
        "singletons": len(report.singletons),
        "cross_language_stories": len(report.cross_language),
        "skipped": len(report.skipped),
        "duplicate_ratio": rounded(report.duplicate_ratio, SIM_PLACES),
        "languages": _language_counts(report.stories),
    }


def _selection_dict(report: Report, selection: Selection) -> dict[str, Any]:
    return {
        "min_size": selection.min_size,
        "limit": selection.limit,
        "shown": len(report.stories),
        "left_out": {"smaller": selection.smaller, "past_limit": selection.past_limit},
        "note": selection_note(report),
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON document of the report (see the module docstring for the schema). Of a view
    (:func:`dedup.report.view.select`): its stories, related pairs and evidence, the summary
    of the whole run, and a ``selection`` that says what the view left out."""
    run = report.run
    doc = {
        "schema": SCHEMA_VERSION,
        "run": {
            "version": run.version,
            "backend": run.backend,
            "model": run.model,
            "threshold": rounded(run.threshold, SIM_PLACES),
            "related_threshold": rounded(run.related_threshold, SIM_PLACES),
            "inputs": list(run.inputs),
            "timings": {k: rounded(v, TIME_PLACES) for k, v in sorted(run.timings.items())},
            "warnings": list(run.warnings),
            "trust_text_dates": run.trust_text_dates,
        },
        "summary": _summary(report.whole),
        "stories": [_story_dict(s) for s in report.stories],
        "related": [
            {"a": r.a, "b": r.b, "similarity": rounded(r.similarity, SIM_PLACES)}
            for r in report.related
        ],
        "skipped": [{"origin": s.origin, "reason": s.reason} for s in report.skipped],
    }
    if report.explanations:
        doc["explanations"] = [_evidence_dict(ev) for ev in report.explanations]
    if report.selection is not None:
        doc["selection"] = _selection_dict(report, report.selection)
    return doc


def to_json(report: Report, *, indent: int | None = 2) -> str:
    """``report.json``: sorted keys, UTF-8 text kept as is, a trailing newline."""
    return "".join(json_chunks(report, indent=indent))


def json_chunks(report: Report, *, indent: int | None = 2) -> Iterator[str]:
    """:func:`to_json` a piece at a time, for a file: the report of a million articles is
    gigabytes of text that need never be one string."""
    encoder = json.JSONEncoder(indent=indent, sort_keys=True, ensure_ascii=False)
    yield from encoder.iterencode(to_dict(report))
    yield "\n"


# ---------------------------------------------------------------------------------------------
# stories.jsonl


def story_records(report: Report) -> Iterator[dict[str, Any]]:
    """One record per story for ``stories.jsonl``, exact copies of an article dropped."""
    for story in report.stories:
        if story.size < 1:
            continue
        seen: set[str] = set()
        articles: list[dict[str, Any]] = []
        dropped: list[str] = []
        for member in story.members:
            article = member.article
            key = one_line(article.full_text).casefold()
            if key in seen:
                dropped.append(article.id)
                continue
            seen.add(key)
            articles.append(
                {
                    **_article_summary(article),
                    "similarity": rounded(member.similarity, SIM_PLACES),
                    "text": article.full_text,
                }
            )
        # Insertion order, not sorted: the long ``articles`` come last so a line reads well;
        # story_id then headline first, by which dedup knows the file (dedup.read.own).
        yield {
            "story_id": story.id,
            **_story_summary(story),
            **_stored(story),
            "articles": articles,
            "dropped_copies": dropped,
        }


def jsonl(records: Iterable[dict[str, Any]]) -> str:
    """JSON Lines: each record one compact JSON object on its own line, keys in their order."""
    return "".join(jsonl_lines(records))


def jsonl_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """:func:`jsonl` a line at a time."""
    for record in records:
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def to_jsonl(report: Report) -> str:
    """``stories.jsonl``: one compact JSON object per line."""
    return "".join(jsonl_chunks(report))


def jsonl_chunks(report: Report) -> Iterator[str]:
    """:func:`to_jsonl` a line at a time, for a file."""
    return jsonl_lines(story_records(report))
