"""``report.md``: the report for a person, in Markdown, every text from the input escaped."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from dedup.models import Member, Report, Story
from dedup.report.document import iso_day
from dedup.report.text import (
    UNTITLED,
    evidence_text,
    languages_text,
    one_line,
    run_text,
    summary_counts,
)

NO_DATE = "—"

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


def _md_story(story: Story, related: list[tuple[str, float]]) -> list[str]:
    facts = [f"Languages: {languages_text(story)}"]
    if story.sources:
        facts.append(f"Sources: {_md(', '.join(story.sources))}")
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
        _md_row(["Title", "Source", "Lang", "Date", "Similarity"]),
        _md_row(["---", "---", "---", "---", "---:"]),
    ]
    for member in story.members:
        article = member.article
        lines.append(
            _md_row(
                [
                    _md_title(member),
                    _md(article.source),
                    _md(article.lang or "und"),
                    iso_day(article.published) or NO_DATE,
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
    lines = [
        "# dedup report",
        "",
        f"{summary_counts(report)} · {_md(run_text(report))}",
        "",
    ]
    if report.run.warnings:
        lines += [*(f"- Warning: {_md(w)}" for w in report.run.warnings), ""]
    if not report.multi:
        lines += ["No story is told by more than one article.", ""]
    for story in report.multi:
        lines += _md_story(story, related.get(story.id, []))
    if report.singletons:
        lines += [
            "## Single-article stories",
            "",
            _md_row(["Story", "Title", "Source", "Lang", "Date", "Related"]),
            _md_row(["---"] * 6),
        ]
        for story in report.singletons:
            member = story.members[0]
            lines.append(
                _md_row(
                    [
                        story.id,
                        _md_title(member),
                        _md(member.article.source),
                        _md(member.article.lang or "und"),
                        iso_day(member.article.published) or NO_DATE,
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
