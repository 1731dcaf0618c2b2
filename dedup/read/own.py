"""dedup's own files, known by their content wherever they are: a later run over a folder that
holds an old ``--out`` must not read its reports as articles.

Each is known by how dedup begins it: ``report.html`` by its generator tag, ``report.md`` by
its heading and counts line, ``stories.jsonl`` and the deduplicated corpus
(``--representatives``) by the keys their lines begin with, and ``report.json`` (its keys
sorted, so its head says nothing) by the keys of its top level. The writers in
:mod:`dedup.report` begin their files this way; ``tests/test_outputs.py`` checks that each
is known.
"""

from __future__ import annotations

import re
from typing import Any

#: In the head of every page :func:`dedup.report.html.to_html` writes (its template's tag).
PAGE_MARK = b'<meta name="generator" content="dedup">'
#: Read this far into a file to know it.
HEAD_BYTES = 4096

# A stories.jsonl line goes on with the headline, a representative with story_size.
_STORY_LINE = re.compile(rb'\{"story_id":(?:"(?:[^"\\]|\\.)*","(headline)":)?')
_MARKDOWN = re.compile(
    rb"# dedup report\n\n[0-9]+ articles? \xc2\xb7 [0-9]+ stor(?:y|ies) \([0-9]+ multi-article"
)
#: The top-level keys every ``report.json`` has.
_REPORT_KEYS = frozenset({"schema", "run", "summary", "stories", "related", "skipped"})

#: Why a file dedup wrote is not read (the reason its skip gives).
REASONS = {
    "html": "a report dedup wrote (HTML), not an article",
    "markdown": "a report dedup wrote (Markdown), not an article",
    "json": "a report dedup wrote (JSON), not articles",
    "stories": "stories dedup wrote (stories.jsonl), not articles",
    "representatives": "a deduplicated corpus dedup wrote: read when named, not in a folder",
}


def own_file(head: bytes) -> str | None:
    """Which of dedup's files begins with ``head`` (the first :data:`HEAD_BYTES` of a file):
    a key of :data:`REASONS`, or None for a file dedup did not write."""
    if PAGE_MARK in head:
        return "html"
    if _MARKDOWN.match(head):
        return "markdown"
    line = _STORY_LINE.match(head)
    if line is not None:
        return "stories" if line.group(1) else "representatives"
    return None


def own_document(value: Any) -> bool:
    """Whether a parsed JSON document is dedup's ``report.json``."""
    return isinstance(value, dict) and value.keys() >= _REPORT_KEYS
