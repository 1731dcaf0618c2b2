"""The terminal view: a summary and a table of stories (rich), cut to the terminal's width."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from dedup.models import Article, Evidence, Related, Report, Story
from dedup.report.text import (
    NO_OUTLET,
    UNTITLED,
    evidence_text,
    languages_text,
    one_line,
    outlet,
    outlets,
    plural,
    run_text,
    selection_note,
    story_label,
    summary_counts,
)

# The terminal lists this many skipped inputs and related pairs; the rest are in the JSON.
TERMINAL_LIST_LIMIT = 20
#: The story table's rows at most (stories and their articles' lines): a million articles'
#: table would take many minutes to lay out and scroll past unread.
TABLE_MAX_ROWS = 5_000
CROSS_MARK = "⇄"  # not of ambiguous East Asian width, so one cell even in CJK terminals


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


def _member_date(article: Article) -> str:
    """The published date, else the date read from the text marked ``~`` (not published)."""
    if article.published is not None:
        return article.published.isoformat()
    return f"~{article.inferred.isoformat()}" if article.inferred else ""


def _short_sources(story: Story, max_width: int) -> Text:
    """The first outlet and how many more, the count kept visible when the name is cut."""
    sources = outlets(story)
    if len(sources) < 2:
        return Text(sources[0] if sources else NO_OUTLET)
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
    _Col("sources", max_width=_SOURCES_WIDTH),  # the outlets (see dedup.report.text.outlet)
    _Col("dates"),
    _Col("cohesion", justify="right"),
)
_HEADLINE = 4
_SOURCES = 5
# On a narrow terminal these columns go first, in this order, to leave the headline readable:
# dates, sources, cohesion, then languages (the cross-language mark stays).
_DROPPABLE = (6, _SOURCES, 7, 2)
_MIN_HEADLINE = 24
_GAP = 2


def _table_stories(report: Report) -> tuple[list[Story], int]:
    """The stories the table shows, in display order, and how many it leaves out: no more
    than :data:`TABLE_MAX_ROWS` rows (one at least), however big the run."""
    shown: list[Story] = []
    rows = 0
    ordered = (*report.multi, *report.singletons)
    for story in ordered:
        rows += 1 + (story.size if story.size >= 2 else 0)
        if shown and rows > TABLE_MAX_ROWS:
            break
        shown.append(story)
    return shown, len(ordered) - len(shown)


def _story_rows(stories: Iterable[Story], color: bool) -> list[tuple[list[Text], str, bool]]:
    """Cells, row style and whether a story ends after the row, in display order."""
    member_style = "dim" if color else ""
    rows: list[tuple[list[Text], str, bool]] = []
    for story in stories:
        cohesion = f"{story.cohesion_mean:.2f}" if story.cohesion_mean is not None else ""
        cells = [
            Text(story_label(story), style="bold" if color else ""),
            Text(str(story.size)),
            Text(languages_text(story)),
            Text(CROSS_MARK if story.cross_language else "", style="cyan" if color else ""),
            Text(one_line(story.headline) or UNTITLED),
            _short_sources(story, _SOURCES_WIDTH),
            Text(_short_range(story)),
            Text(cohesion),
        ]
        rows.append((cells, "", False))
        if story.size < 2:
            continue
        for member in story.members:
            article = member.article
            title = one_line(article.title) or UNTITLED
            cells = [
                Text(""),
                Text(""),
                Text(article.lang or "und"),
                Text(""),
                Text(f"  {title}"),
                Text(outlet(article) or NO_OUTLET),
                Text(_member_date(article)),
                Text(f"{member.similarity:.2f}"),
            ]
            rows.append((cells, member_style, member is story.members[-1]))
    return rows


def _layout(rows: list[tuple[list[Text], str, bool]], width: int) -> tuple[list[int], int]:
    """The columns shown within ``width`` and the table's width: the headline takes the room
    the other columns leave, up to the longest headline (no blank band on a wide terminal)."""

    def natural(index: int) -> int:
        col = _COLUMNS[index]
        widest = max([cell_len(col.header)] + [row[0][index].cell_len for row in rows])
        return min(widest, col.max_width) if col.max_width else widest

    shown = list(range(len(_COLUMNS)))
    if all(row[0][_SOURCES].plain in ("", NO_OUTLET) for row in rows):
        shown.remove(_SOURCES)  # no outlet known: a column of dashes says nothing
    for drop in (None, *_DROPPABLE):
        if drop is not None and drop in shown:
            shown.remove(drop)
        others = sum(natural(i) for i in shown if i != _HEADLINE) + _GAP * (len(shown) - 1)
        if width - others >= _MIN_HEADLINE:
            break
    return shown, min(width, others + natural(_HEADLINE))


def _story_table(stories: list[Story], width: int, color: bool) -> Table:
    rows = _story_rows(stories, color)
    shown, table_width = _layout(rows, width)
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
        expand=True,  # the headline column takes what the others leave, and is cut to fit
        width=table_width,
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


def _evidence_lines(ev: Evidence) -> list[str]:
    head, details = evidence_text(ev)
    return [f"  {head}", *(f"    {line}" for line in details)]


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
    console.print(Text(summary_counts(report)))
    console.print(Text(run_text(report)))
    if report.selection is not None:
        console.print(Text(selection_note(report)))
    if report.stories:
        console.print()
        stories, left = _table_stories(report)
        console.print(_story_table(stories, width, color))
        if left:
            more = "story" if left == 1 else "stories"
            console.print(Text(f"... and {left:,} more {more} (see --json or --out)"))
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
        console.print(Text(f"Skipped {plural(len(report.skipped), 'input')}:"))
        lines = [f"  {s.origin}: {one_line(s.reason)}" for s in report.skipped]
        for line in _capped(lines, "inputs"):
            console.print(Text(line))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
