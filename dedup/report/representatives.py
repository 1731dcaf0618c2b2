"""The deduplicated corpus: one article per story, the story's most central one, as JSONL.

What a summariser or a later stage reads instead of the whole corpus: each line is an
article record that dedup (and most tools) read back as an article, with the story it
represents and the ids of the articles it stands for. Every story of the run has its line,
single-article stories included: a story told once is still news, so a view's selection
(:func:`dedup.report.view.select`) does not apply here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dedup.models import Report
from dedup.report.document import iso_day, jsonl
from dedup.report.text import outlet


def representative_records(report: Report) -> Iterator[dict[str, Any]]:
    """One record per story of the whole run, in report order: the story's most central
    article (its first member) with its cleaned title and body, the story's id and size, and
    the ids of the story's other articles, most central first (``stands_for``)."""
    for story in report.whole.stories:
        if not story.members:
            continue
        article = story.members[0].article
        # Insertion order, not sorted: the short fields first, so that a line reads well;
        # story_id then story_size first, by which dedup knows the file (dedup.read.own).
        yield {
            "story_id": story.id,
            "story_size": story.size,
            "id": article.id,
            "title": article.title,
            "source": outlet(article) or None,
            "lang": article.lang,
            "published": iso_day(article.published),
            "url": article.url,
            "origin": article.origin,
            "text": article.text,
            "stands_for": [member.article.id for member in story.members[1:]],
        }


def to_representatives(report: Report) -> str:
    """The deduplicated corpus as JSONL: one compact JSON object per line, one line per
    story (see :func:`representative_records`)."""
    return jsonl(representative_records(report))
