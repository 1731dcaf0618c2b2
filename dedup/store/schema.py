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
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from dedup.errors import DedupError, InputError, one_line, os_reason
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


#: The tables a store of :data:`FORMAT` has; one missing is a broken store.
TABLES = ("meta", "runs", "stories", "story_runs", "articles")
#: What to do with a broken store, said in every message about one.
REMEDY = "restore it from a backup, or start a new store (name another file)"


class StoreError(DedupError):
    """The store cannot be used: not a store, another format, busy, read-only, or broken."""


class BrokenStore(StoreError):
    """The store's file is damaged: a page SQLite cannot read, a table or row missing, a value
    cut short. Raised without the path by the code that reads a row (:func:`damaged`); the
    :class:`~dedup.store.Store` adds it (:func:`broken`)."""


class _Damaged(BrokenStore):
    """A row that cannot be read, before :func:`guarded` names the store."""


def damaged(what: str, exc: BaseException | None = None) -> BrokenStore:
    """A row of the store cannot be read: ``what`` says which (``exc``: what reading it
    raised)."""
    return _Damaged(what if exc is None else f"{what}: {type(exc).__name__}: {one_line(exc, 80)}")


def load_json(text: object, what: str) -> Any:
    """A JSON value the store keeps; a damaged row is a :class:`BrokenStore`."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise damaged(what, exc) from exc


def broken(path: Path, what: object) -> StoreError:
    """The one-line error for a damaged store at ``path``; ``what`` (an exception, or a text)
    says what was found."""
    reason = one_line(what, 160) if isinstance(what, BaseException) else what
    return BrokenStore(f"store {path} is broken ({reason}): {REMEDY}")


def read_only(path: Path) -> StoreError:
    return StoreError(
        f"store {path} is read-only: adding or removing articles writes it; copy it somewhere"
        " writable (reporting it only reads it)"
    )


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


def connect(path: Path, *, create: bool, wait: float, writable: bool = True) -> sqlite3.Connection:
    """The store at ``path``, made when ``create`` and missing; opened for reading only unless
    ``writable``. Refuses, with a one-line error and before it writes anything, a file that is
    not a store (a foreign SQLite database stays byte for byte as it was: no WAL switch, no
    ``-wal`` or ``-shm`` beside it), a store of another format, a broken store, and a
    read-only store to write."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"store {path} is a directory: name a file")
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not create:
        raise InputError(f"no story store at {path}")
    if exists:
        _check_sqlite_header(path)
    if not writable:
        return _open_read_only(path, wait)
    if not _can_write(path):
        raise read_only(path)
    if exists:  # read-only first: what is not a store is left exactly as it was
        _open_read_only(path, wait, empty_ok=create, look_only=True).close()
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
        raise store_error(path, wait, exc) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def store_error(path: Path, wait: float, exc: sqlite3.Error) -> StoreError:
    """What an error of SQLite on the store means to a user: busy, read-only, or broken."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return busy(path, wait)
    if "readonly" in text or "read-only" in text:
        return read_only(path)
    if "not a database" in text:
        return StoreError(f"{path} is not a dedup story store ({text})")
    return broken(path, exc)


def _check_sqlite_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise StoreError(f"cannot open store {path}: {os_reason(exc)}") from exc
    if head != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not a dedup story store (not an SQLite database)")


def _can_write(path: Path) -> bool:
    """Whether a run can write the store: the file, and its directory (SQLite's journal). A
    directory that is not there is SQLite's to report (it cannot open the file)."""
    folder = path.absolute().parent
    if not folder.is_dir():
        return True
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _open_read_only(
    path: Path, wait: float, *, empty_ok: bool = False, look_only: bool = False
) -> sqlite3.Connection:
    """The store opened for reading, its format and tables checked. On read-only media a
    store in WAL mode cannot be opened so (SQLite needs its ``-shm`` file): it is then read
    as an immutable file, which it is there. ``empty_ok``: a database without tables passes
    (another run may be making the store in it). ``look_only``: to check what the file is; a
    file without a ``-wal`` beside it (no run has it open; a foreign database in WAL mode) is
    read as an immutable file, so that SQLite makes no ``-wal`` or ``-shm`` for it."""
    uri = path.absolute().as_uri()
    modes = ["?mode=ro", "?immutable=1"]
    if look_only and not Path(f"{path}-wal").exists():
        modes.reverse()
    for mode in modes:
        if mode == "?immutable=1" and _can_write(path) and not look_only:
            break
        try:
            conn = sqlite3.connect(uri + mode, uri=True, timeout=wait, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        try:
            _check_format(conn, path, empty_ok=empty_ok)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "unable to open" in str(exc):
                continue
            raise store_error(path, wait, exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn
    raise StoreError(f"cannot open store {path}: unable to open database file")


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


def _check_format(conn: sqlite3.Connection, path: Path, *, empty_ok: bool = False) -> None:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if empty_ok and not names:
        return
    if "meta" not in names:
        raise StoreError(f"{path} is not a dedup story store (no meta table)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if row is None:
        raise StoreError(f"{path} is not a dedup story store (no format recorded)")
    if row[0] != str(FORMAT):
        raise StoreError(
            f"store {path} has format {row[0]}; this dedup reads format {FORMAT} only: "
            "use the dedup that wrote it, or start a new store"
        )
    missing = [name for name in TABLES if name not in names]
    if missing:
        raise broken(path, f"no {missing[0]} table")


@contextmanager
def guarded(path: Path, wait: float) -> Iterator[None]:
    """Inside the block, what SQLite says of the store, and a row that cannot be read
    (:func:`damaged`), become the store's one-line errors: busy, read-only, broken."""
    try:
        yield
    except _Damaged as exc:
        raise broken(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        raise store_error(path, wait, exc) from exc


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path, wait: float) -> Iterator[None]:
    """One run's writes: all of them or none (an error or a signal rolls back)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise store_error(path, wait, exc) from exc
    try:
        with guarded(path, wait):
            yield
    except BaseException:
        with suppress(sqlite3.Error):  # a damaged file: SQLite has rolled back, or cannot
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
    d = load_json(text, "an article row")
    try:
        published = dt.date.fromisoformat(d["published"]) if d.get("published") else None
        return Article(
            id=str(d["id"]),
            title=str(d["title"]),
            text=str(d["text"]),
            source=str(d.get("source") or ""),
            url=d.get("url"),
            lang=d.get("lang"),
            published=published,
            origin=str(d.get("origin") or ""),
            meta=dict(d.get("meta") or {}),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise damaged("an article row", exc) from exc


def profile_json(profile: Profile | None) -> str | None:
    if profile is None:
        return None
    return json.dumps([profile.entities, profile.stems], ensure_ascii=False)


def profile_from_json(text: str | None) -> Profile | None:
    if text is None:
        return None
    try:
        entities, stems = load_json(text, "an article's lexical profile")
        if not isinstance(entities, dict) or not isinstance(stems, dict):
            raise TypeError("not two objects")
        return Profile(entities=entities, stems=stems)
    except (TypeError, ValueError) as exc:
        raise damaged("an article's lexical profile", exc) from exc


def next_story(conn: sqlite3.Connection) -> int:
    """The number the next new story gets (``meta.next_story``)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'next_story'").fetchone()
    if row is None:
        raise damaged("no next_story in its meta table")
    if not str(row[0]).isdigit():
        raise damaged(f"next_story {str(row[0])[:40]!r} in its meta table is not a number")
    return int(row[0])
