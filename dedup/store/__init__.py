"""The story store: stories that live across runs, in one SQLite file.

A run adds articles in one transaction (:meth:`Store.intake`): articles already stored with
the same text are not added again, a changed text replaces the stored one; the open stories'
articles are loaded as they were cleaned (a story is open while its last dated article is
within the horizon, ``window_days`` before the run's newest article; a story of undated
articles only is never closed). The caller (``dedup.pipeline.add_to_store``) represents the
new and the open articles together, as one batch run over them would, and
:meth:`Intake.file` assigns each new article to a story (:mod:`dedup.store.assign`), records
what changed, and returns the report. An error or a signal before the end rolls the whole
run back.

Corpus statistics (the lexical IDF, the per-language centring of dense vectors) are those of
the new and open articles of the run, as a batch run over them would have: closed stories
weigh nothing, and what a run compares does not grow with the archive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import numpy as np

from dedup.config import Settings
from dedup.group import describe
from dedup.link import Links
from dedup.models import Article, Report, Skipped, Story
from dedup.represent import Represented
from dedup.represent.lexical import Profile
from dedup.store import view
from dedup.store.assign import NEW, UNSTORED, assign
from dedup.store.schema import (
    FORMAT,
    StoreError,
    article_from_json,
    article_json,
    connect,
    guarded,
    next_story,
    now,
    profile_from_json,
    profile_json,
    text_hash,
    transaction,
    wait_seconds,
)
from dedup.version import __version__

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_WINDOW_DAYS", "FORMAT", "Entry", "Intake", "Store", "StoreError", "text_hash"]

#: The store's horizon when no window is set: a story whose last article is older than this
#: many days before the run's newest article is closed, and articles further apart than this
#: are never compared.
DEFAULT_WINDOW_DAYS = 7
# Orders undated stories after dated ones.
NO_DAY = 1 << 40


class Entry(NamedTuple):
    """An article as the store keeps it: cleaned, its lexical profile (None without the
    lexical backend), the event day its text states, and the hash of its text as read (what
    tells a changed article from the same one added again)."""

    article: Article
    profile: Profile | None
    stated: int | None
    hash: str


class Store:
    """A story store at ``path`` (made when missing, unless ``create`` is false).

    ``wait``: seconds to wait for another run writing the store (default
    ``$DEDUP_STORE_WAIT``, else 60); then a one-line :class:`StoreError`. ``writable=False``
    opens it for reading only (a store on read-only media can be reported).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        wait: float | None = None,
        writable: bool = True,
    ):
        self.path = Path(path)
        self.wait = wait_seconds() if wait is None else wait
        self._conn = connect(self.path, create=create, wait=self.wait, writable=writable)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def window(self, settings: Settings) -> int:
        """The horizon in days: the settings' window, else :data:`DEFAULT_WINDOW_DAYS`."""
        return DEFAULT_WINDOW_DAYS if settings.window_days is None else settings.window_days

    @contextmanager
    def intake(self, entries: Sequence[Entry], settings: Settings) -> Iterator[Intake]:
        """Open a run's transaction and sort ``entries`` (cleaned articles) into new,
        replacing and already stored; load the open stories' articles. Committed when the
        block ends, rolled back when it raises (a signal included)."""
        with transaction(self._conn, self.path, self.wait):
            yield self._intake(entries, settings)

    def _intake(self, entries: Sequence[Entry], settings: Settings) -> Intake:
        conn = self._conn
        run = (view.last_run(conn) or 0) + 1
        dated = [e.article.published.toordinal() for e in entries if e.article.published]
        (newest,) = conn.execute(
            "SELECT max(last_day) FROM stories WHERE merged_into IS NULL"
        ).fetchone()
        day = max(dated) if dated else newest  # undated articles do not move time on
        horizon = None if day is None else day - self.window(settings)
        intake = Intake(self, run, day, now())
        stored = self._stored_hashes([e.article.id for e in entries])
        for entry in entries:
            old = stored.get(entry.article.id)
            if old is not None and old[0] == entry.hash:
                intake.unchanged.append(entry.article.id)
                continue
            if old is not None:
                _, story, first_run = old
                conn.execute("DELETE FROM articles WHERE id = ?", (entry.article.id,))
                intake.replaced[entry.article.id] = first_run
                intake.revised.add(story)
            intake.new.append(entry)
        if not intake.new:
            return intake
        open_rows = conn.execute(
            "SELECT a.cleaned, a.profile, a.stated, a.hash, a.story FROM articles a"
            " JOIN stories s ON s.id = a.story"
            " WHERE s.merged_into IS NULL AND (s.last_day IS NULL OR s.last_day >= ?)"
            " ORDER BY a.id",
            (horizon if horizon is not None else -1,),
        ).fetchall()
        for cleaned, profile, stated, digest, story in open_rows:
            article = article_from_json(cleaned)
            intake.stored.append(Entry(article, profile_from_json(profile), stated, digest))
            intake.story_of[article.id] = story
        log.info(
            "store: %d new, %d replaced, %d already stored; %d articles of open stories",
            len(intake.new),
            len(intake.replaced),
            len(intake.unchanged),
            len(intake.stored),
        )
        return intake

    def _stored_hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, int, int]]:
        out: dict[str, tuple[str, int, int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT id, hash, story, first_run FROM articles WHERE id IN ({marks})", chunk
            ):
                out[row[0]] = (row[1], int(row[2]), int(row[3]))
        return out

    def stories(self, *, since: dt.date | None = None) -> list[Story]:
        """Every live story (with its status in the last run), largest first."""
        with guarded(self.path, self.wait):
            return view.stories(self._conn, run=view.last_run(self._conn), since=since)

    def report(self, *, since: dt.date | None = None, changed_only: bool = False) -> Report:
        """The store as a report on its last run: every live story (or those seen since
        ``since``, or those the last run changed), as :mod:`dedup.report` writes them."""
        with guarded(self.path, self.wait):
            return view.report(
                self._conn, run=view.last_run(self._conn), changed_only=changed_only, since=since
            )

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn


@dataclass
class Intake:
    """One run in progress: what it adds, what it replaces, the open articles it links to."""

    store: Store
    run: int
    # The run's reference day (an ordinal): its newest article's date, else the store's
    # newest day; None when nothing is dated. Stories whose last day is older than it by
    # more than the window are closed.
    day: int | None
    started: str
    new: list[Entry] = field(default_factory=list)  # added by this run
    replaced: dict[str, int] = field(default_factory=dict)  # id -> the run that first added it
    unchanged: list[str] = field(default_factory=list)  # ids stored with the same text
    revised: set[int] = field(default_factory=set)  # stories that lost a replaced article
    stored: list[Entry] = field(default_factory=list)  # the open stories' articles
    story_of: dict[str, int] = field(default_factory=dict)  # id -> story, stored ones
    added: int = 0  # new articles filed (the others were skipped while preparing)

    @property
    def to_prepare(self) -> list[Entry]:
        """What the run represents: the new articles and the open stories' articles."""
        return [*self.new, *self.stored]

    def notes(self) -> list[str]:
        """What the run says about articles it did not add as new."""
        notes = []
        if self.unchanged:
            notes.append(
                f"{len(self.unchanged)} article(s) already in the store with the same text, "
                f"not added again (first: {self.unchanged[0]})"
            )
        notes += [
            f"article {i} changed since it was stored: the new text replaces the old"
            for i in sorted(self.replaced)
        ]
        return notes

    def file(
        self,
        articles: Sequence[Article],
        represented: Represented | None,
        copy_of: np.ndarray,
        links: Links,
        settings: Settings,
        *,
        inputs: Sequence[str] = (),
        skipped: Sequence[Skipped] = (),
        timings: Mapping[str, float] | None = None,
        all_stories: bool = False,
        warnings: Sequence[str] = (),
    ) -> Report:
        """Assign the prepared ``articles`` (cleaned, canonical order: the rows of
        ``represented``) to stories, record the run, and report it; ``warnings``: those of
        the stages before representing, first among the run's."""
        conn = self.store.connection
        warnings = [
            *warnings,
            *([] if represented is None else represented.warnings),
            *self.notes(),
        ]
        # A run that adds nothing new groups nothing: it keeps the last run's numbers.
        last = conn.execute(
            "SELECT backend, model, threshold, related_threshold FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        backend, model, threshold, related = last or ("none", None, 0.0, 0.0)
        touched: dict[int, str] = {s: "revised" for s in self.revised}
        merged: dict[int, list[int]] = {}
        if represented is not None and articles:
            reps, calibration = represented.reps, represented.calibration
            backend, model = reps.backend, represented.model
            threshold = settings.threshold_for(backend, calibration.thresholds)
            related = settings.related_for(backend, calibration.thresholds)
            warnings += self._settings_changed(backend, model, threshold)
            floor = settings.link_floor(backend, calibration.thresholds)  # as it was linked
            merged = self._assign(articles, represented, copy_of, links, threshold, floor, touched)
        for story in sorted(s for s, status in touched.items() if status == "revised"):
            self._refresh_size(story)
        for story, status in sorted(touched.items()):
            absorbed = merged.get(story, [])
            conn.execute(
                "INSERT INTO story_runs VALUES (?, ?, ?, ?)",
                (self.run, story, status, json.dumps(absorbed)),
            )
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run,
                self.started,
                self.day,
                __version__,
                backend,
                model,
                threshold,
                related,
                _digest(backend, model, threshold),
                json.dumps(list(inputs), ensure_ascii=False),
                json.dumps(warnings, ensure_ascii=False),
                self.added,
                len(self.replaced),
                len(self.unchanged),
            ),
        )
        return view.report(
            conn,
            run=self.run,
            changed_only=not all_stories,
            inputs=inputs,
            skipped=skipped,
            timings=timings,
            warnings=warnings,
        )

    def _settings_changed(self, backend: str, model: str | None, threshold: float) -> list[str]:
        row = self.store.connection.execute(
            "SELECT backend, model, threshold, digest FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None or row[3] == _digest(backend, model, threshold):
            return []
        return [
            f"the store's last run grouped with {row[0]} ({row[1] or 'no model'}, threshold "
            f"{row[2]:.4g}); this one with {backend} ({model or 'no model'}, threshold "
            f"{threshold:.4g}): similarities across the two may not agree"
        ]

    def _assign(
        self,
        articles: Sequence[Article],
        represented: Represented,
        copy_of: np.ndarray,
        links: Links,
        threshold: float,
        floor: float,
        touched: dict[int, str],
    ) -> dict[int, list[int]]:
        conn = self.store.connection
        reps = represented.reps
        start = np.array([self.story_of.get(a.id, UNSTORED) for a in articles], dtype=np.int64)
        final, merged = assign(reps, links, threshold, copy_of, start, floor=floor)
        days = [a.published.toordinal() if a.published else None for a in articles]
        order_day = np.array([NO_DAY if d is None else d for d in days], dtype=np.int64)
        fresh = start == UNSTORED
        self.added = int(fresh.sum())
        entry = {e.article.id: e for e in self.new}
        # New stories get numbers in the order of their first day, then canonical order.
        new_keys = sorted(
            {int(k) for k in final[fresh] if k >= NEW},
            key=lambda k: (int(order_day[final == k].min()), k - NEW),
        )
        first = next_story(conn)
        number = {k: first + n for n, k in enumerate(new_keys)}
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'next_story'", (str(first + len(new_keys)),)
        )
        story = np.array([number.get(int(k), int(k)) for k in final], dtype=np.int64)
        for k in new_keys:
            conn.execute(
                "INSERT INTO stories VALUES (?, ?, ?, ?, NULL, NULL, 0, NULL, NULL, NULL, NULL)",
                (number[k], self.run, self.run, self.run),
            )
            touched[number[k]] = "new"
        for survivor, gone in merged.items():
            touched[survivor] = "merged"
            for absorbed in gone:
                conn.execute(
                    "UPDATE stories SET merged_into = ?, merged_run = ? WHERE id = ?",
                    (survivor, self.run, absorbed),
                )
                conn.execute("UPDATE articles SET story = ? WHERE story = ?", (survivor, absorbed))
                touched.pop(absorbed, None)
        for s in np.unique(story[fresh]).tolist():
            touched.setdefault(int(s), "grown")
            if touched[int(s)] == "revised":
                touched[int(s)] = "grown"
        for k in np.flatnonzero(fresh).tolist():
            a = articles[k]
            conn.execute(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
                (
                    a.id,
                    entry[a.id].hash,
                    int(story[k]),
                    days[k],
                    self.replaced.get(a.id, self.run),
                    self.run,
                    article_json(a),
                    profile_json(entry[a.id].profile),
                    entry[a.id].stated,
                ),
            )
        self._describe(articles, represented, copy_of, story, touched)
        return merged

    def _describe(
        self,
        articles: Sequence[Article],
        represented: Represented,
        copy_of: np.ndarray,
        story: np.ndarray,
        touched: Mapping[int, str],
    ) -> None:
        """Centrality, ranks and cohesion of the stories the run changed, and of those a
        removal left unmeasured (:mod:`dedup.store.remove`), measured on this run's
        representations; their size and days."""
        conn = self.store.connection
        unmeasured = conn.execute(
            "SELECT id FROM stories"
            " WHERE size > 1 AND cohesion_mean IS NULL AND merged_into IS NULL"
        )
        changed = np.array(sorted({*touched, *(row[0] for row in unmeasured)}))
        if not len(changed):
            return
        idx = np.flatnonzero(np.isin(story, changed))
        labels = np.unique(story[idx], return_inverse=True)[1]
        first: dict[int, int] = {}
        local_copy = np.array(
            [first.setdefault(int(copy_of[k]), n) for n, k in enumerate(idx.tolist())],
            dtype=np.int64,
        )
        groups = describe(represented.reps.rows(idx), labels, local_copy)
        for number, group in zip(np.unique(story[idx]).tolist(), groups, strict=True):
            conn.executemany(
                "UPDATE articles SET similarity = ?, rank = ? WHERE id = ?",
                [
                    (round(float(sim), 6), rank, articles[int(idx[m])].id)
                    for rank, (m, sim) in enumerate(
                        zip(group.members.tolist(), group.centre_similarity, strict=True)
                    )
                ],
            )
            conn.execute(
                "UPDATE stories SET cohesion_min = ?, cohesion_mean = ?, last_run = ? WHERE id = ?",
                (group.cohesion_min, group.cohesion_mean, self.run, number),
            )
            self._refresh_size(number)

    def _refresh_size(self, number: int) -> None:
        self.store.connection.execute(
            "UPDATE stories SET size = (SELECT count(*) FROM articles WHERE story = :s),"
            " first_day = (SELECT min(day) FROM articles WHERE story = :s),"
            " last_day = (SELECT max(day) FROM articles WHERE story = :s),"
            " last_run = :r WHERE id = :s",
            {"s": number, "r": self.run},
        )


def _digest(backend: str, model: str | None, threshold: float) -> str:
    """What makes two runs' similarities comparable."""
    text = json.dumps([backend, model, round(threshold, 6)])
    return hashlib.sha1(text.encode()).hexdigest()[:16]
