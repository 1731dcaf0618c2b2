"""The report stage: a ``Report`` becomes JSON, Markdown, ``stories.jsonl``, a terminal table
and an HTML page, and the files on disk.

Which module owns what:

- ``dedup.report.document``: ``report.json`` and ``stories.jsonl`` (:func:`to_dict`,
  :func:`to_json`, :func:`story_records`, :func:`to_jsonl`, ``SCHEMA_VERSION``) and the one
  rounding rule every writer uses (``rounded``, ``SIM_PLACES``, ``TIME_PLACES``).
- ``dedup.report.text``: the phrases the Markdown report and the terminal table share.
- ``dedup.report.markdown``: ``report.md`` (:func:`to_markdown`), its escaping and links.
- ``dedup.report.table``: the terminal view (:func:`render_table`).
- ``dedup.report.html``: the self-contained ``report.html`` page.
- ``dedup.report.view``: a view that shows only some stories (:func:`~dedup.report.view.select`:
  ``--min-size``, ``--limit``); every writer renders the report or view it is given.
- ``dedup.report.representatives``: the deduplicated corpus, one article per story
  (``--representatives``).
- ``dedup.report.outputs``: the file names and the atomic writing of the ``--out`` set.
- ``dedup.report.explain``: the evidence behind each link (``--explain``).

Every writer is a pure function of the report; only ``outputs`` touches the disk.
"""

from __future__ import annotations

from dedup.report.document import SCHEMA_VERSION, story_records, to_dict, to_json, to_jsonl
from dedup.report.markdown import to_markdown
from dedup.report.table import render_table

__all__ = [
    "SCHEMA_VERSION",
    "render_table",
    "story_records",
    "to_dict",
    "to_json",
    "to_jsonl",
    "to_markdown",
]
