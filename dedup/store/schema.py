"""The story store's file: one SQLite database, its tables, its format version, and the one
transaction a run writes in.

Tables (format :data:`FORMAT`):

* ``meta``: ``format`` (this module's :data:`FORMAT`), ``next_story`` (the number the next new
  story gets: ids are never reused), ``created`` (when the store was made).
* ``runs``: one row per run that added articles: when, its reference day, the settings that
  matter to similarity (``digest``), what it read, its warnings.
* ``stories``: one row per story ever made: created, first and last run it was seen in, its
  first and last day, cohesion, and ``merged_into`` when another story absorbed it.
* ``story_runs``: each story's status in each run that changed it (``new``, ``grown``,
  ``merged``, ``revised``); a story with no row for a run was ``unchanged`` in it.
* ``articles``: one row per article id: the record as cleaned (``cleaned``, JSON: what
  reports show and later runs represent again), its lexical profile (``profile``, JSON; none
  when the run had no lexical backend) and the event day stated in its text (``stated``),
  the hash of its text as read, its story, its day, the runs that added and last changed it,
  its similarity to
  its story's centre and its rank there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dedup.errors import DedupError, InputError
from dedup.models import Article
from dedup.represent.lexical import Profile

#: The layout of the tables above. A store of another format is refused (see :func:`connect`).
FORMAT = 1
#: Seconds a run waits for another run on the same store to finish before it gives up.
DEFAULT_WAIT = 60.0
WAIT_ENV = "DEDUP_STORE_WAIT"

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, day INTEGER, version TEXT NOT NULL,
    backend TEXT NOT NULL, model TEXT, threshold REAL NOT NULL, related_threshold REAL NOT NULL,
    digest TEXT NOT NULL, inputs TEXT NOT NULL, warnings TEXT NOT NULL,
    added INTEGER NOT NULL, replaced INTEGER NOT NULL, unchanged INTEGER NOT NULL
);
CREATE TABLE stories (
    id INTEGER PRIMARY KEY, created_run INTEGER NOT NULL, first_run INTEGER NOT NULL,
    last_run INTEGER NOT NULL, first_day INTEGER, last_day INTEGER,
    size INTEGER NOT NULL, cohesion_min REAL, cohesion_mean REAL,
    merged_into INTEGER, merged_run INTEGER
);
CREATE INDEX stories_open ON stories (last_day) WHERE merged_into IS NULL;
CREATE TABLE story_runs (
    run INTEGER NOT NULL, story INTEGER NOT NULL, status TEXT NOT NULL,
    merged_from TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (run, story)
);
CREATE TABLE articles (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, story INTEGER NOT NULL, day INTEGER,
    first_run INTEGER NOT NULL, run INTEGER NOT NULL, similarity REAL NOT NULL,
    rank INTEGER NOT NULL, cleaned TEXT NOT NULL, profile TEXT, stated INTEGER
);
CREATE INDEX articles_story ON articles (story);
"""


class StoreError(DedupError):
    """The store cannot be used: not a store, another format, busy, or broken."""


def story_name(number: int) -> str:
    """The id users see: ``S000123``."""
    return f"S{number:06d}"


def story_number(name: str) -> int:
    """``S000123`` -> 123; an InputError for anything else."""
    if len(name) < 2 or name[0] != "S" or not name[1:].isdigit():
        raise InputError(f"{name!r} is not a story id (S followed by digits)")
    return int(name[1:])


def wait_seconds() -> float:
    """How long a run waits for the store: ``$DEDUP_STORE_WAIT`` seconds, else the default."""
    value = os.environ.get(WAIT_ENV)
    if not value:
        return DEFAULT_WAIT
    try:
        seconds = float(value)
    except ValueError:
        raise InputError(f"{WAIT_ENV}={value!r} is not a number of seconds") from None
    return max(0.0, seconds)


def connect(path: Path, *, create: bool, wait: float) -> sqlite3.Connection:
    """The store at ``path``, made when ``create`` and missing. Refuses a file that is not a
    store, or a store of another format, with a one-line error."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"store {path} is a directory: name a file")
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not create:
        raise InputError(f"no story store at {path}")
    try:
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if create:
            # Under a write lock, and only into a database without tables: a second run that
            # opens the store while the first is making it waits, then finds it made.
            _create(conn)
        _check_format(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise busy(path, wait) from exc
        raise StoreError(f"{path} is not a dedup story store ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def busy(path: Path, wait: float) -> StoreError:
    return StoreError(
        f"store {path} is busy: another run is writing it (waited {wait:g} s; "
        f"set {WAIT_ENV} to wait longer)"
    )


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            for statement in _TABLES.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", str(FORMAT)), ("next_story", "1"), ("created", now())],
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _check_format(conn: sqlite3.Connection, path: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise StoreError(f"{path} is not a dedup story store (no meta table)") from exc
        raise
    if row is None:
        raise StoreError(f"{path} is not a dedup story store (no format recorded)")
    if row[0] != str(FORMAT):
        raise StoreError(
            f"store {path} has format {row[0]}; this dedup reads format {FORMAT} only: "
            "use the dedup that wrote it, or start a new store"
        )


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path, wait: float) -> Iterator[None]:
    """One run's writes: all of them or none (an error or a signal rolls back)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise busy(path, wait) from exc
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write store {path}: {exc}") from exc


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def text_hash(article: Article) -> str:
    """What tells a changed article from the same one added again: its title and text."""
    return hashlib.sha1(article.full_text.encode("utf-8", "surrogatepass")).hexdigest()


def article_json(article: Article) -> str:
    return json.dumps(
        {
            "id": article.id,
            "title": article.title,
            "text": article.text,
            "source": article.source,
            "url": article.url,
            "lang": article.lang,
            "published": article.published.isoformat() if article.published else None,
            "origin": article.origin,
            "meta": dict(article.meta),
        },
        ensure_ascii=False,
    )


def article_from_json(text: str) -> Article:
    d: dict[str, Any] = json.loads(text)
    published = dt.date.fromisoformat(d["published"]) if d.get("published") else None
    return Article(
        id=d["id"],
        title=d["title"],
        text=d["text"],
        source=d.get("source") or "",
        url=d.get("url"),
        lang=d.get("lang"),
        published=published,
        origin=d.get("origin") or "",
        meta=d.get("meta") or {},
    )


def profile_json(profile: Profile | None) -> str | None:
    if profile is None:
        return None
    return json.dumps([profile.entities, profile.stems], ensure_ascii=False)


def profile_from_json(text: str | None) -> Profile | None:
    if text is None:
        return None
    entities, stems = json.loads(text)
    return Profile(entities=entities, stems=stems)
