"""Writers: a ``Report`` becomes JSON, Markdown, ``stories.jsonl`` and a terminal table.

The HTML page is made by ``dedup.report.html``; ``dedup.report.outputs`` writes the files.

Every writer is a pure function of the report; none touches the disk. Numbers are rounded
(similarities to 4 places, timings to 3) so that the same run gives byte-identical files on
every platform.

The layouts of `report.json` and `stories.jsonl` are documented in README.md ("JSON
schema"); change both together, and bump SCHEMA_VERSION when a key changes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rich import box
from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from dedup.models import Evidence, Member, Related, Report, Story

log = logging.getLogger(__name__)

SCHEMA_VERSION: str = "1"

JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
STORIES_NAME = "stories.jsonl"
HTML_NAME = "report.html"

SIM_PLACES = 4
TIME_PLACES = 3
# The terminal lists this many skipped inputs and related pairs; the rest are in the JSON.
TERMINAL_LIST_LIMIT = 20
CROSS_MARK = "⇄"  # not of ambiguous East Asian width, so one cell even in CJK terminals
UNTITLED = "(untitled)"
NO_DATE = "—"


# ---------------------------------------------------------------------------------------------
# JSON


def _num(value: float | None, places: int) -> float | None:
    """A plain float rounded for stable output; ``None`` for a missing or non-finite value."""
    if value is None:
        return None
    number = float(value)  # numpy scalars become plain floats
    if not math.isfinite(number):
        return None
    return round(number, places) + 0.0  # + 0.0 turns -0.0 into 0.0


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _language_counts(stories: Iterable[Story]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for story in stories:
        counts.update(story.languages)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _member_dict(member: Member) -> dict[str, Any]:
    article = member.article
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "lang": article.lang,
        "published": _iso(article.published),
        "url": article.url,
        "origin": article.origin,
        "similarity": _num(member.similarity, SIM_PLACES),
    }


def _cohesion(story: Story) -> dict[str, float | None] | None:
    if story.size < 2 or (story.cohesion_min is None and story.cohesion_mean is None):
        return None
    return {
        "min": _num(story.cohesion_min, SIM_PLACES),
        "mean": _num(story.cohesion_mean, SIM_PLACES),
    }


def _story_summary(story: Story) -> dict[str, Any]:
    """The fields report.json and stories.jsonl share, so the two never drift apart."""
    return {
        "headline": story.headline,
        "size": story.size,
        "languages": story.languages,
        "sources": story.sources,
        "first_date": _iso(story.first_date),
        "last_date": _iso(story.last_date),
        "cross_language": story.cross_language,
    }


def _story_dict(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        **_story_summary(story),
        "cohesion": _cohesion(story),
        "members": [_member_dict(m) for m in story.members],
    }


def _evidence_dict(ev: Evidence) -> dict[str, Any]:
    return {
        "stories": [ev.story_a, ev.story_b],
        "a": ev.a,
        "b": ev.b,
        "similarity": _num(ev.similarity, SIM_PLACES),
        "base": _num(ev.base, SIM_PLACES),
        "fused": _num(ev.fused, SIM_PLACES),
        "same_language": ev.same_language,
        "components": {k: _num(v, SIM_PLACES) for k, v in ev.components.items()},
        "shared": [{"token": t, "weight": _num(w, SIM_PLACES)} for t, w in ev.shared],
        "days": {"a": ev.day_a, "b": ev.day_b, "factor": _num(ev.day_factor, SIM_PLACES)},
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON document of the report (see the module docstring for the schema)."""
    run = report.run
    doc = {
        "schema": SCHEMA_VERSION,
        "run": {
            "version": run.version,
            "backend": run.backend,
            "model": run.model,
            "threshold": _num(run.threshold, SIM_PLACES),
            "related_threshold": _num(run.related_threshold, SIM_PLACES),
            "inputs": list(run.inputs),
            "timings": {k: _num(v, TIME_PLACES) for k, v in sorted(run.timings.items())},
            "warnings": list(run.warnings),
        },
        "summary": {
            "articles": report.articles,
            "stories": len(report.stories),
            "multi_article_stories": len(report.multi),
            "singletons": len(report.singletons),
            "cross_language_stories": len(report.cross_language),
            "skipped": len(report.skipped),
            "duplicate_ratio": _num(report.duplicate_ratio, SIM_PLACES),
            "languages": _language_counts(report.stories),
        },
        "stories": [_story_dict(s) for s in report.stories],
        "related": [
            {"a": r.a, "b": r.b, "similarity": _num(r.similarity, SIM_PLACES)}
            for r in report.related
        ],
        "skipped": [{"origin": s.origin, "reason": s.reason} for s in report.skipped],
    }
    if report.explanations:
        doc["explanations"] = [_evidence_dict(ev) for ev in report.explanations]
    return doc


def to_json(report: Report, *, indent: int | None = 2) -> str:
    """``report.json``: sorted keys, UTF-8 text kept as is, a trailing newline."""
    return json.dumps(to_dict(report), indent=indent, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# stories.jsonl


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


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
            key = _normalised(article.full_text)
            if key in seen:
                dropped.append(article.id)
                continue
            seen.add(key)
            articles.append(
                {
                    "id": article.id,
                    "title": article.title,
                    "source": article.source,
                    "lang": article.lang,
                    "published": _iso(article.published),
                    "url": article.url,
                    "similarity": _num(member.similarity, SIM_PLACES),
                    "text": article.full_text,
                }
            )
        # Insertion order, not sorted: the long ``articles`` come last so a line reads well.
        yield {
            "story_id": story.id,
            **_story_summary(story),
            "articles": articles,
            "dropped_copies": dropped,
        }


def to_jsonl(report: Report) -> str:
    """``stories.jsonl``: one compact JSON object per line."""
    return "".join(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        for record in story_records(report)
    )


# ---------------------------------------------------------------------------------------------
# Shared text helpers


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _date_range(story: Story) -> str:
    first, last = story.first_date, story.last_date
    if first is None or last is None:
        return ""
    return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


def _languages_text(story: Story) -> str:
    return " · ".join(f"{lang} {n}" for lang, n in story.languages.items())


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


def _summary_counts(report: Report) -> str:
    return (
        f"{_plural(report.articles, 'article')}"
        f" · {_plural(len(report.stories), 'story', 'stories')}"
        f" ({len(report.multi)} multi-article, {len(report.cross_language)} cross-language)"
        f" · {len(report.skipped)} skipped"
    )


def _run_text(report: Report) -> str:
    run = report.run
    model = f", model {run.model}" if run.model else ""
    return f"backend {run.backend}{model}, threshold {run.threshold:.2f}"


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = frozenset("\\`*_[]<>|#")


def _md(text: str) -> str:
    """Inline text safe in a heading or a table cell: one line, Markdown syntax escaped."""
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in _one_line(text))


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


def _md_story(story: Story, related: list[tuple[str, float]]) -> list[str]:
    facts = [f"Languages: {_languages_text(story)}"]
    if story.sources:
        facts.append(f"Sources: {_md(', '.join(story.sources))}")
    facts.append(f"Dates: {_date_range(story) or 'unknown'}")
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
                    _iso(article.published) or NO_DATE,
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
        f"{_summary_counts(report)} · {_md(_run_text(report))}",
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
                        _iso(member.article.published) or NO_DATE,
                        _related_text(related.get(story.id, [])),
                    ]
                )
            )
        lines.append("")
    if report.skipped:
        lines += [f"## Skipped inputs ({len(report.skipped)})", ""]
        lines += [f"- {_md(s.origin)}: {_md(s.reason)}" for s in report.skipped]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# Terminal table


def _short_range(story: Story) -> str:
    """An ISO 8601 interval with the end abbreviated: ``2024-09-22/23``, ``2024-09-30/10-01``."""
    first, last = story.first_date, story.last_date
    if first is None or last is None:
        return ""
    if first == last:
        return first.isoformat()
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.isoformat()}/{last:%d}"
    if first.year == last.year:
        return f"{first.isoformat()}/{last:%m-%d}"
    return f"{first.isoformat()}/{last.isoformat()}"


def _short_sources(story: Story, max_width: int) -> Text:
    """The first source and how many more, the count kept visible when the name is cut."""
    sources = story.sources
    if len(sources) < 2:
        return Text("".join(sources))
    more = f" +{len(sources) - 1}"
    first = Text(sources[0])
    first.truncate(max(1, max_width - len(more)), overflow="ellipsis")
    return first + more


@dataclass(frozen=True)
class _Col:
    header: str
    justify: JustifyMethod = "left"
    max_width: int | None = None


_SOURCES_WIDTH = 20
# Columns of the terminal table; the headline takes the room the others leave.
_COLUMNS = (
    _Col("id"),
    _Col("n", justify="right"),
    _Col("languages", max_width=18),
    _Col(CROSS_MARK),
    _Col("headline"),
    _Col("sources", max_width=_SOURCES_WIDTH),
    _Col("dates"),
    _Col("cohesion", justify="right"),
)
_HEADLINE = 4
# On a narrow terminal these columns go first, in this order, to leave the headline readable.
_DROPPABLE = (6, 5)
_MIN_HEADLINE = 24
_GAP = 2


def _story_rows(report: Report, color: bool) -> list[tuple[list[Text], str, bool]]:
    """Cells, row style and whether a story ends after the row, in display order."""
    member_style = "dim" if color else ""
    rows: list[tuple[list[Text], str, bool]] = []
    for story in (*report.multi, *report.singletons):
        cohesion = f"{story.cohesion_mean:.2f}" if story.cohesion_mean is not None else ""
        cells = [
            Text(story.id, style="bold" if color else ""),
            Text(str(story.size)),
            Text(_languages_text(story)),
            Text(CROSS_MARK if story.cross_language else "", style="cyan" if color else ""),
            Text(_one_line(story.headline) or UNTITLED),
            _short_sources(story, _SOURCES_WIDTH),
            Text(_short_range(story)),
            Text(cohesion),
        ]
        rows.append((cells, "", False))
        if story.size < 2:
            continue
        for member in story.members:
            article = member.article
            title = _one_line(article.title) or UNTITLED
            cells = [
                Text(""),
                Text(""),
                Text(article.lang or "und"),
                Text(""),
                Text(f"  {title}"),
                Text(article.source),
                Text(_iso(article.published) or ""),
                Text(f"{member.similarity:.2f}"),
            ]
            rows.append((cells, member_style, member is story.members[-1]))
    return rows


def _visible_columns(rows: list[tuple[list[Text], str, bool]], width: int) -> list[int]:
    def natural(index: int) -> int:
        col = _COLUMNS[index]
        widest = max([cell_len(col.header)] + [row[0][index].cell_len for row in rows])
        return min(widest, col.max_width) if col.max_width else widest

    shown = list(range(len(_COLUMNS)))
    for drop in (None, *_DROPPABLE):
        if drop is not None:
            shown.remove(drop)
        others = [natural(i) for i in shown if i != _HEADLINE]
        if width - sum(others) - _GAP * (len(shown) - 1) >= _MIN_HEADLINE:
            break
    return shown


def _story_table(report: Report, width: int, color: bool) -> Table:
    rows = _story_rows(report, color)
    shown = _visible_columns(rows, width)
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
        expand=True,  # the headline column takes what the others leave, and is cut to fit
        header_style="bold" if color else "",
    )
    for index in shown:
        col = _COLUMNS[index]
        table.add_column(
            col.header,
            justify=col.justify,
            no_wrap=True,
            overflow="ellipsis",
            max_width=col.max_width,
            ratio=1 if index == _HEADLINE else None,
        )
    for cells, style, ends_story in rows:
        # A blank line after each multi-article story keeps stories apart.
        table.add_row(*(cells[i] for i in shown), style=style, end_section=ends_story)
    return table


def _capped(lines: list[str], what: str) -> list[str]:
    if len(lines) <= TERMINAL_LIST_LIMIT:
        return lines
    rest = len(lines) - TERMINAL_LIST_LIMIT
    return [*lines[:TERMINAL_LIST_LIMIT], f"  ... and {rest} more {what} (see --json)"]


def _related_lines(related: Iterable[Related]) -> list[str]:
    return [f"  {r.a} ~ {r.b} {r.similarity:.2f}" for r in related]


def _signal_text(components: Iterable[tuple[str, float]]) -> str:
    """``dense 0.31 + stems 0.12 + ... - 0.18``: what each signal adds, largest first."""
    parts = sorted(components, key=lambda kv: -abs(kv[1]))
    shown = [f"{name} {value:.2f}" for name, value in parts if name != "intercept" and value]
    intercept = dict(parts).get("intercept", 0.0)
    text = " + ".join(shown) or "nothing"
    if intercept:
        text += f" {'-' if intercept < 0 else '+'} {abs(intercept):.2f}"
    return text


def _evidence_lines(ev: Evidence) -> list[str]:
    where = ev.story_a if ev.story_a == ev.story_b else f"{ev.story_a} ~ {ev.story_b}"
    language = "same language" if ev.same_language else "across languages"
    if ev.day_a and ev.day_b:
        days = f"{ev.day_a} and {ev.day_b}, similarity x{ev.day_factor:.2f}"
    else:
        days = "not both known, no discount"
    return [
        f"  {where}  {ev.a} ~ {ev.b}  {ev.similarity:.2f}  {language}",
        f"    shared: {', '.join(t for t, _ in ev.shared) or 'nothing'}",
        f"    days: {days}",
        f"    signals: {_signal_text(ev.components.items())} = {ev.fused:.2f}"
        + ("" if abs(ev.base - ev.fused) < 0.005 else f", on the story scale {ev.base:.2f}"),
    ]


def render_table(report: Report, *, width: int = 100, color: bool = False) -> str:
    """The terminal view as a string: exact for a given width, no trailing whitespace."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        force_interactive=False,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(Text(_summary_counts(report)))
    console.print(Text(_run_text(report)))
    if report.stories:
        console.print()
        console.print(_story_table(report, width, color))
    else:
        console.print(Text("No stories."))
    if report.related:
        console.print()
        console.print(Text("Related:"))
        for line in _capped(_related_lines(report.related), "pairs"):
            console.print(Text(line))
    if report.explanations:
        console.print()
        console.print(Text("Evidence (--explain):"))
        for ev in report.explanations:
            for line in _evidence_lines(ev):
                console.print(Text(line), no_wrap=True, overflow="ellipsis")
    if report.skipped:
        console.print()
        console.print(Text(f"Skipped {_plural(len(report.skipped), 'input')}:"))
        lines = [f"  {s.origin}: {_one_line(s.reason)}" for s in report.skipped]
        for line in _capped(lines, "inputs"):
            console.print(Text(line))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
