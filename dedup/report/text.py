"""Phrases that the Markdown report and the terminal table both use, written once."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from dedup.models import Article, Evidence, Report, Story

UNTITLED = "(untitled)"
#: Shown where an article's outlet is not known.
NO_OUTLET = "—"

# A record's place in its file after the file's path in an origin: ``:LINE`` or ``:#INDEX``.
_RECORD_PLACE = re.compile(r":#?\d+$")
_SEPARATORS = re.compile("[/" + re.escape(os.sep) + "]")


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 article``, ``2 articles``; ``many`` for an irregular plural."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def one_line(text: str) -> str:
    """``text`` on one line, every run of whitespace one space."""
    return " ".join(text.split())


def languages_text(story: Story) -> str:
    """A story's languages with their article counts: ``en 2 · fr 1``."""
    return " · ".join(f"{lang} {n}" for lang, n in story.languages.items())


def outlet(article: Article) -> str:
    """The outlet that published ``article``: its source, unless that is only the name of the
    file it was read from (what the reader gives a record that names no source and has no
    URL); then "". Repeating a file name on every row of a report says nothing."""
    source = article.source
    if source and article.origin:
        for path in {article.origin, _RECORD_PLACE.sub("", article.origin)}:
            if _SEPARATORS.split(path)[-1] == source:
                return ""
    return source


def outlets(story: Story) -> list[str]:
    """The outlets that tell ``story`` (see :func:`outlet`), sorted."""
    return sorted({name for m in story.members if (name := outlet(m.article))})


def summary_counts(report: Report) -> str:
    """The line of counts that opens a report: articles, stories, skipped inputs, of the whole
    run even when the report shows only some of its stories."""
    report = report.whole
    return (
        f"{plural(report.articles, 'article')}"
        f" · {plural(len(report.stories), 'story', 'stories')}"
        f" ({len(report.multi)} multi-article, {len(report.cross_language)} cross-language)"
        f" · {len(report.skipped)} skipped"
    )


def run_text(report: Report) -> str:
    """How the run grouped: backend, model and threshold."""
    run = report.run
    model = f", model {run.model}" if run.model else ""
    trust = ", dates read from texts trusted" if run.trust_text_dates else ""
    return f"backend {run.backend}{model}, threshold {run.threshold:.2f}{trust}"


def signal_text(components: Iterable[tuple[str, float]]) -> str:
    """``dense 0.31 + stems 0.12 + ... - 0.18``: what each signal adds, largest first."""
    parts = sorted(components, key=lambda kv: -abs(kv[1]))
    shown = [f"{name} {value:.2f}" for name, value in parts if name != "intercept" and value]
    intercept = dict(parts).get("intercept", 0.0)
    text = " + ".join(shown) or "nothing"
    if intercept:
        text += f" {'-' if intercept < 0 else '+'} {abs(intercept):.2f}"
    return text


def evidence_text(ev: Evidence) -> tuple[str, list[str]]:
    """Why two articles were linked: a head line (the stories, the pair, its similarity and
    whether it crosses languages) and its details (shared evidence, days, signals)."""
    where = ev.story_a if ev.story_a == ev.story_b else f"{ev.story_a} ~ {ev.story_b}"
    language = "same language" if ev.same_language else "across languages"
    if ev.day_a and ev.day_b:
        days = f"{ev.day_a} and {ev.day_b}, similarity x{ev.day_factor:.2f}"
    else:
        days = "not both known, no discount"
    return f"{where}  {ev.a} ~ {ev.b}  {ev.similarity:.2f}  {language}", [
        f"shared: {', '.join(t for t, _ in ev.shared) or 'nothing'}",
        f"days: {days}",
        f"signals: {signal_text(ev.components.items())} = {ev.fused:.2f}"
        + ("" if abs(ev.base - ev.fused) < 0.005 else f", on the story scale {ev.base:.2f}"),
    ]


def selection_note(report: Report, flags: Mapping[str, str] | None = None) -> str:
    """What a view of the report (:func:`dedup.report.view.select`) left out, as a sentence:
    ``Showing 20 of 689 stories; left out: 669 of fewer than 2 articles.``; "" for a report
    that shows every story. ``flags`` names each rule as the caller set it (``{"min_size":
    "--min-size 2", "limit": "--limit 20"}``): ``left out: 669 by --min-size 2``."""
    selection = report.selection
    if selection is None:
        return ""
    parts = []
    if selection.smaller:
        rule = (
            f"by {flags['min_size']}"
            if flags
            else f"of fewer than {plural(selection.min_size, 'article')}"
        )
        parts.append(f"{selection.smaller} {rule}")
    if selection.past_limit:
        rule = f"by {flags['limit']}" if flags else f"past the first {selection.limit}"
        parts.append(f"{selection.past_limit} {rule}")
    total = plural(len(selection.whole.stories), "story", "stories")
    return f"Showing {len(report.stories)} of {total}; left out: {', '.join(parts)}."


def inferred_text(article: Article) -> str:
    """The date read from an article's text and where: ``2024-12-06 (dateline)``; "" for
    none. Never shown as its publication date."""
    if article.inferred is None:
        return ""
    return f"{article.inferred.isoformat()} ({article.inferred_from or 'text'})"


def story_label(story: Story) -> str:
    """A story's id, and what the run did to it when it is a stored story that changed
    (``S000012 grown``)."""
    return f"{story.id} {story.status}" if story.changed and story.status else story.id
