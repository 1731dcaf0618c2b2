"""``report.md``: the report for a person, in Markdown, every text from the input escaped."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from dedup.models import Member, Report, Story
from dedup.report.document import iso_day
from dedup.report.text import (
    NO_OUTLET,
    UNTITLED,
    evidence_text,
    inferred_text,
    languages_text,
    one_line,
    outlet,
    outlets,
    run_text,
    selection_note,
    summary_counts,
)

NO_DATE = "—"
# The date columns: the published date, and the date read from the text when any article has
# one.
_DATE_HEADS = {False: ["Date"], True: ["Date", "Text date"]}

_MD_SPECIAL = frozenset("\\`*_[]<>|#")


def _md(text: str) -> str:
    """Inline text safe in a heading or a table cell: one line, Markdown syntax escaped."""
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in one_line(text))


def _md_url(url: str) -> str:
    # Characters that would end the link destination or the table cell.
    for raw, encoded in ((" ", "%20"), ("<", "%3C"), (">", "%3E"), ("|", "%7C")):
        url = url.replace(raw, encoded)
    return url


def _web_url(url: str | None) -> bool:
    """Only http and https become links (as in report.html): a ``javascript:`` or ``data:``
    URL in an article's metadata must not be one click from running."""
    return bool(url) and urlsplit(str(url).strip()).scheme.lower() in ("http", "https")


def _md_title(member: Member) -> str:
    article = member.article
    title = _md(article.title) or UNTITLED
    if article.url and _web_url(article.url):
        return f"[{title}](<{_md_url(article.url)}>)"
    return title


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _date_range(story: Story) -> str:
    first, last = story.first_date, story.last_date
    if first is None or last is None:
        return ""
    return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


def _related_of(report: Report) -> dict[str, list[tuple[str, float]]]:
    """For each story id, its related stories, most similar first."""
    found: dict[str, list[tuple[str, float]]] = {}
    for rel in report.related:
        found.setdefault(rel.a, []).append((rel.b, rel.similarity))
        found.setdefault(rel.b, []).append((rel.a, rel.similarity))
    for pairs in found.values():
        pairs.sort(key=lambda p: (-p[1], p[0]))
    return found


def _related_text(pairs: list[tuple[str, float]]) -> str:
    return ", ".join(f"{other} ({sim:.2f})" for other, sim in pairs)


def _has_text_dates(report: Report) -> bool:
    """Whether any article has a date read from its text: the tables then show it in a
    column of its own, beside (never as) the published date."""
    return any(m.article.inferred for s in report.stories for m in s.members)


def _dates(member: Member, text_dates: bool) -> list[str]:
    """The Date cell, and the Text date cell when the tables have that column."""
    published = iso_day(member.article.published) or NO_DATE
    return [published, _md(inferred_text(member.article))] if text_dates else [published]


def _md_story(story: Story, related: list[tuple[str, float]], text_dates: bool) -> list[str]:
    facts = [f"Languages: {languages_text(story)}"]
    if names := outlets(story):
        facts.append(f"Sources: {_md(', '.join(names))}")
    facts.append(f"Dates: {_date_range(story) or 'unknown'}")
    if story.status is not None:  # a stored story
        merged = f" (absorbed {', '.join(story.merged_from)})" if story.merged_from else ""
        facts.append(f"Status: {story.status}{merged}, first seen {story.first_seen}")
    if story.cohesion_min is not None and story.cohesion_mean is not None:
        facts.append(f"Cohesion: min {story.cohesion_min:.2f}, mean {story.cohesion_mean:.2f}")
    lines = [
        f"## {story.id} · {_md(story.headline) or UNTITLED}",
        "",
        " · ".join(facts),
        "",
        _md_row(["Title", "Source", "Lang", *_DATE_HEADS[text_dates], "Similarity"]),
        _md_row(["---"] * (4 + text_dates) + ["---:"]),
    ]
    for member in story.members:
        article = member.article
        lines.append(
            _md_row(
                [
                    _md_title(member),
                    _md(outlet(article)) or NO_OUTLET,
                    _md(article.lang or "und"),
                    *_dates(member, text_dates),
                    f"{member.similarity:.2f}",
                ]
            )
        )
    if related:
        lines += ["", f"Related: {_related_text(related)}"]
    return [*lines, ""]


def to_markdown(report: Report) -> str:
    """``report.md``: a report for a person, stories told by several articles first."""
    related = _related_of(report)
    text_dates = _has_text_dates(report)
    lines = [  # this heading and the counts line tell the file from an article (dedup.read.own)
        "# dedup report",
        "",
        f"{summary_counts(report)} · {_md(run_text(report))}",
        "",
    ]
    if report.run.warnings:
        lines += [*(f"- Warning: {_md(w)}" for w in report.run.warnings), ""]
    if report.selection is not None:
        lines += [selection_note(report), ""]
    if not report.multi:
        lines += ["No story is told by more than one article.", ""]
    for story in report.multi:
        lines += _md_story(story, related.get(story.id, []), text_dates)
    if report.singletons:
        lines += [
            "## Single-article stories",
            "",
            _md_row(["Story", "Title", "Source", "Lang", *_DATE_HEADS[text_dates], "Related"]),
            _md_row(["---"] * (6 + text_dates)),
        ]
        for story in report.singletons:
            member = story.members[0]
            lines.append(
                _md_row(
                    [
                        story.id,
                        _md_title(member),
                        _md(outlet(member.article)) or NO_OUTLET,
                        _md(member.article.lang or "und"),
                        *_dates(member, text_dates),
                        _related_text(related.get(story.id, [])),
                    ]
                )
            )
        lines.append("")
    if report.explanations:
        lines += [
            "## Evidence",
            "",
            "Why the articles of each story, and related stories, were linked.",
            "",
        ]
        for ev in report.explanations:
            head, details = evidence_text(ev)
            lines += [f"- {_md(head)}", *(f"  - {_md(d)}" for d in details)]
        lines.append("")
    if report.skipped:
        lines += [f"## Skipped inputs ({len(report.skipped)})", ""]
        lines += [f"- {_md(s.origin)}: {_md(s.reason)}" for s in report.skipped]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
