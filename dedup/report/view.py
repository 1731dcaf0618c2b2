"""A view of a report that shows only some of its stories, for corpus-scale runs.

:func:`select` is the one place stories are left out: every writer renders the report it is
given, so the terminal table, ``report.md``, ``report.html`` and ``stories.jsonl`` of a view
show the same stories. What a view left out is in its :class:`~dedup.models.Selection`, which
the writers state (:func:`dedup.report.text.selection_note`); the summaries still count the
whole run (:attr:`~dedup.models.Report.whole`).
"""

from __future__ import annotations

import dataclasses

from dedup.config import check_selection
from dedup.models import Report, Selection


def select(report: Report, *, min_size: int = 1, limit: int | None = None) -> Report:
    """The report of the stories told by at least ``min_size`` articles, the first ``limit``
    of those in report order (largest first), with the related pairs and the evidence
    between the stories it keeps and every skipped input.

    A report that leaves nothing out is ``report`` itself, so that a rule that changes
    nothing changes no output. Selecting from a view selects from its whole report anew.
    InputError (naming ``min_size`` or ``limit``) when either is below 1.
    """
    check_selection(min_size, limit)
    whole = report.whole
    passing = [story for story in whole.stories if story.size >= min_size]
    kept = passing if limit is None else passing[:limit]
    if len(kept) == len(whole.stories):
        return whole
    ids = {story.id for story in kept}
    return dataclasses.replace(
        whole,
        stories=tuple(kept),
        related=tuple(r for r in whole.related if r.a in ids and r.b in ids),
        explanations=tuple(
            ev for ev in whole.explanations if ev.story_a in ids and ev.story_b in ids
        ),
        selection=Selection(
            min_size=min_size,
            limit=limit,
            whole=whole,
            smaller=len(whole.stories) - len(passing),
            past_limit=len(passing) - len(kept),
        ),
    )
