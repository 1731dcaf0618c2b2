"""The store as a report: its stories (all, those a run changed, those seen since a day) as the
same ``Report`` a batch run makes, so every writer in ``dedup.report`` renders it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence

from dedup.models import Article, Member, Report, RunInfo, Skipped, Story
from dedup.store.schema import article_from_json, load_json, story_name
from dedup.version import __version__

# Ids per query (SQLite allows 32,766 parameters; fewer keep each query's plan simple).
CHUNK = 500


def last_run(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT max(id) FROM runs").fetchone()
    return None if row[0] is None else int(row[0])


def run_info(
    conn: sqlite3.Connection,
    run: int | None,
    *,
    inputs: Sequence[str] | None = None,
    timings: Mapping[str, float] | None = None,
    warnings: Sequence[str] | None = None,
) -> RunInfo:
    """How run ``run`` was made (its stored row), with the live run's inputs, timings and
    warnings when given."""
    row = None
    if run is not None:
        row = conn.execute(
            "SELECT version, backend, model, threshold, related_threshold, inputs, warnings"
            " FROM runs WHERE id = ?",
            (run,),
        ).fetchone()
    if row is None:
        return RunInfo(__version__, "none", None, 0.0, 0.0, tuple(inputs or ()))
    version, backend, model, threshold, related, stored_inputs, stored_warnings = row
    return RunInfo(
        version=version,
        backend=backend,
        model=model,
        threshold=threshold,
        related_threshold=related,
        inputs=tuple(load_json(stored_inputs, "a run's inputs") if inputs is None else inputs),
        timings=dict(timings or {}),
        warnings=tuple(
            load_json(stored_warnings, "a run's warnings") if warnings is None else warnings
        ),
    )


def stories(
    conn: sqlite3.Connection,
    *,
    run: int | None,
    changed_only: bool = False,
    since: dt.date | None = None,
) -> list[Story]:
    """The store's live stories (not merged away, not empty), largest first, then by id;
    each with its status in ``run`` (``unchanged`` without a row for it)."""
    where = ["s.merged_into IS NULL", "s.size > 0"]
    params: list[object] = [run if run is not None else -1]
    if since is not None:
        where.append("(s.last_day >= ? OR (s.last_day IS NULL AND l.started >= ?))")
        params += [since.toordinal(), since.isoformat()]
    rows = conn.execute(
        "SELECT s.id, s.cohesion_min, s.cohesion_mean, r.status, r.merged_from,"
        " f.started, l.started FROM stories s"
        f" {'' if changed_only else 'LEFT '}JOIN story_runs r ON r.story = s.id AND r.run = ?"
        " JOIN runs f ON f.id = s.first_run JOIN runs l ON l.id = s.last_run"
        f" WHERE {' AND '.join(where)}",
        params,
    ).fetchall()
    members = _members(conn, [int(r[0]) for r in rows])
    out = [
        Story(
            id=story_name(number),
            members=tuple(members.get(number, ())),
            cohesion_min=cmin,
            cohesion_mean=cmean,
            status=status or "unchanged",
            first_seen=first,
            last_seen=last,
            merged_from=tuple(
                story_name(int(n)) for n in load_json(merged or "[]", "a story's merged_from")
            ),
        )
        for number, cmin, cmean, status, merged, first, last in rows
    ]
    out.sort(key=lambda s: (-s.size, s.id))
    return [s for s in out if s.members]


def _members(conn: sqlite3.Connection, numbers: Sequence[int]) -> dict[int, list[Member]]:
    """Each story's members, most central first."""
    out: dict[int, list[Member]] = {}
    wanted = sorted(set(numbers))
    for start in range(0, len(wanted), CHUNK):  # by the story index: never the whole store
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for story, cleaned, similarity in conn.execute(
            f"SELECT story, cleaned, similarity FROM articles WHERE story IN ({marks})"
            " ORDER BY story, rank, id",
            chunk,
        ):
            out.setdefault(story, []).append(Member(article_from_json(cleaned), similarity))
    return out


def report(
    conn: sqlite3.Connection,
    *,
    run: int | None,
    changed_only: bool,
    since: dt.date | None = None,
    inputs: Sequence[str] | None = None,
    skipped: Sequence[Skipped] = (),
    timings: Mapping[str, float] | None = None,
    warnings: Sequence[str] | None = None,
) -> Report:
    """The store's stories as a report on run ``run`` (default: the store's last run)."""
    chosen = stories(conn, run=run, changed_only=changed_only, since=since)
    info = run_info(conn, run, inputs=inputs, timings=timings, warnings=warnings)
    return Report(tuple(chosen), (), tuple(skipped), info)


def articles_by_id(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Article]:
    """The stored articles among ``ids``, as they were cleaned (`dedup tune` reads their texts)."""
    out: dict[str, Article] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        for (cleaned,) in conn.execute(
            f"SELECT cleaned FROM articles WHERE id IN ({marks})", chunk
        ):
            article = article_from_json(cleaned)
            out[article.id] = article
    return out
