"""Read a corpus: files, directories and JSONL on stdin become Articles, bad records Skipped.

Formats by extension: ``.txt``/``.md`` (first non-empty line is the title), ``.html``/``.htm``
(main text and metadata via trafilatura), ``.json`` (an object or an array of objects),
``.jsonl`` (one object per line) and ``.csv`` (a header row). ``-`` is standard input, read as
JSONL, CSV or plain text (articles separated by blank lines): see :data:`STDIN_READERS`.

Ids: a record's own ``id``; else the path relative to the directory it was found under (a file
named directly keeps its path as given), plus ``:LINE`` for JSONL and CSV records and ``:#INDEX``
(from 0) for the items of a JSON array. Records on stdin get ``stdin:LINE`` (the first line of
a CSV row or of a plain-text article). With ``content_ids`` (a story store's runs), a record
without an id of its own gets its URL, else ``sha256:`` and a hash of its title, text and
source (:func:`dedup.read.records.content_id`): the same article has the same id in every run,
wherever it is read from.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from dedup.config import DEFAULT_MAX_BYTES, StdinFormat, check_stdin_format
from dedup.errors import InputError, os_reason
from dedup.models import Article, Skipped
from dedup.progress import Advance
from dedup.read import formats, streams
from dedup.read.decode import declared_charset, decode, printable
from dedup.read.formats import Place
from dedup.read.own import HEAD_BYTES, REASONS, own_file
from dedup.read.records import DEFAULT_FIELDS, Fields, Result

__all__ = ["DEFAULT_MAX_BYTES", "STDIN", "read_corpus"]

log = logging.getLogger(__name__)

STDIN = "-"
#: How each format of standard input is read.
STDIN_READERS = {
    "jsonl": streams.jsonl_stream,
    "csv": streams.csv_stream,
    "text": streams.text_stream,
}
_STDIN_NAME = "<stdin>"
_KINDS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".csv": "csv",
}


def read_corpus(
    inputs: Sequence[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    stdin: BinaryIO | None = None,
    outputs: Sequence[str] = (),
    fields: Fields = DEFAULT_FIELDS,
    progress: Advance | None = None,
    stdin_format: StdinFormat = "jsonl",
    content_ids: bool = False,
    notes: list[str] | None = None,
) -> tuple[list[Article], list[Skipped]]:
    """Read every input; return the usable articles and the skipped records, in input order.

    ``inputs`` are files, directories (walked recursively in sorted order, dot-names and files
    of other types left out) or ``-`` for ``stdin`` (default ``sys.stdin.buffer``) in
    ``stdin_format``: ``jsonl``, ``csv`` or ``text`` (see :mod:`dedup.read.streams`).
    A missing path raises ``InputError`` before anything is read; anything else that cannot be
    used becomes a ``Skipped`` and reading goes on. No file over ``max_bytes`` is read, and
    none of ``outputs`` (the files this run writes: a rerun must not read its own report).
    ``fields`` says which keys or columns of JSON and CSV records hold which field (text,
    Markdown and HTML are read as they always are). ``content_ids``: see the module's notes.
    ``progress`` is called with 1 as each article is read. ``notes``, if given, gets what is
    to say of the reading as a whole: a field named for a key that no JSON or CSV record has.
    """
    check_stdin_format(stdin_format)
    for item in inputs:
        if item != STDIN and not os.path.exists(item):
            raise InputError(f"path not found: {item}")
    run = _Run(
        max_bytes,
        fields,
        outputs={os.path.realpath(p) for p in outputs},
        progress=progress,
        content_ids=content_ids,
    )
    for item in inputs:
        if item == STDIN:
            if stdin is None and sys.stdin is None:
                raise InputError("cannot read - : standard input is closed")
            stream = stdin if stdin is not None else sys.stdin.buffer
            if isinstance(stream, io.RawIOBase):  # a short read is the end only when buffered
                stream = io.BufferedReader(stream)
            own = fields if stdin_format != "text" else DEFAULT_FIELDS
            read = STDIN_READERS[stdin_format]
            keys = run.keys if stdin_format != "text" else None
            place = Place(_STDIN_NAME, "stdin", "", own, content_ids, keys)
            run.take(read(stream, place, max_bytes=max_bytes, limit=_over_limit(max_bytes)))
        elif os.path.isdir(item):
            for path, rel, error in _walk(item):
                if error is not None:
                    run.skip(printable(path), error)
                else:
                    run.read_file(path, id_base=rel, explicit=False)
        else:
            run.read_file(item, id_base=item, explicit=True)
    log.debug("read %d articles, skipped %d records", len(run.articles), len(run.skipped))
    if notes is not None and run.keys:  # records whose fields may be named were read
        notes.extend(fields.unmatched(run.keys))
    return run.articles, run.skipped


@dataclasses.dataclass
class _Run:
    """What one read_corpus call has collected so far."""

    max_bytes: int
    fields: Fields
    outputs: set[str] = dataclasses.field(default_factory=set)  # real paths, never read
    articles: list[Article] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    ids: dict[str, str] = dataclasses.field(default_factory=dict)  # id -> origin
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # real path -> origin
    progress: Advance | None = None  # told of each article read
    content_ids: bool = False  # ids of URL or content for records without one
    keys: set[str] = dataclasses.field(default_factory=set)  # of JSON and CSV records

    def skip(self, origin: str, reason: str) -> None:
        log.debug("skipped %s: %s", origin, reason)
        self.skipped.append(Skipped(origin, reason))

    def take(self, found: Iterator[tuple[str, Result]]) -> None:
        for origin, result in found:
            self.add(origin, result)

    def add(self, origin: str, result: Result) -> None:
        if isinstance(result, str):
            self.skip(origin, result)
            return
        article, own_id = result
        first = self.ids.get(article.id)
        if first is not None and not own_id and article.origin not in self.ids:
            # A made-up id clashes when two inputs hold the same relative path; the origin is
            # unique, so use it rather than drop a good article.
            article = dataclasses.replace(article, id=article.origin)
            first = None
        if first is not None:
            self.skip(origin, f"duplicate id {article.id} (first seen at {first})")
            return
        self.ids[article.id] = article.origin
        self.articles.append(article)
        if self.progress is not None:
            self.progress(1)

    def read_file(self, path: str, *, id_base: str, explicit: bool) -> None:
        """Read one file; ``explicit`` when the user named it rather than its directory."""
        kind = _KINDS.get(os.path.splitext(path)[1].lower())
        if kind is None:
            if not explicit:
                log.debug("ignoring %s: not a corpus file type", path)
                return
            kind = "text"
        try:
            info = os.stat(path)
        except OSError as exc:
            self.skip(printable(path), f"cannot read file: {os_reason(exc)}")
            return
        regular = stat.S_ISREG(info.st_mode)
        if not regular and not explicit:  # a FIFO or device in a directory would block or never end
            log.debug("ignoring %s: not a regular file", path)
            return
        # What the report shows of the path: no raw undecodable bytes, no terminal escapes.
        shown, id_base = printable(path), printable(id_base)
        real = os.path.realpath(path)
        if real in self.outputs:  # the run's own report, not an input: like a hidden file
            log.debug("ignoring %s: this run writes it (one of its outputs)", path)
            return
        if regular and real in self.files:
            self.skip(shown, f"same file as {self.files[real]}, already read")
            return
        self.files[real] = shown
        if regular and info.st_size > self.max_bytes:
            self.skip(shown, f"file is {_size(info.st_size)}, {_over_limit(self.max_bytes)}")
            return
        name = printable(os.path.basename(path))
        place = Place(shown, id_base, name, self.fields, self.content_ids, self.keys)
        log.debug("reading %s as %s", path, kind)
        try:
            with open(path, "rb") as stream:
                own = own_file(stream.peek(HEAD_BYTES)[:HEAD_BYTES])
                # A report of an earlier run, wherever it is; a corpus dedup wrote is read
                # when named, as it is meant to be, and skipped in a folder beside its source.
                if own is not None and not (own == "representatives" and explicit):
                    self.skip(shown, REASONS[own])
                    return
                if kind == "jsonl":
                    limit = _over_limit(self.max_bytes)
                    self.take(
                        streams.jsonl_stream(stream, place, max_bytes=self.max_bytes, limit=limit)
                    )
                    return
                data = formats.read_at_most(stream, self.max_bytes + 1)
        except OSError as exc:
            self.skip(shown, f"cannot read file: {os_reason(exc)}")
            return
        if len(data) > self.max_bytes:  # a pipe, or a file that grew after stat
            self.skip(shown, f"file is {_over_limit(self.max_bytes)}")
            return
        text = decode(data, declared_charset(data) if kind == "html" else None)
        if text is None:
            self.skip(shown, "binary file")
            return
        if kind in ("text", "markdown", "html"):
            # dedup makes these records itself, under its own names: no field is renamed.
            place = dataclasses.replace(place, fields=DEFAULT_FIELDS, keys=None)
        if kind in ("text", "markdown"):
            self.add(*place.article(formats.text_record(text, markdown=kind == "markdown")))
        elif kind == "html":
            page = formats.html_record(text)
            if isinstance(page, str):
                self.skip(shown, page)
            else:
                self.add(*place.article(page))
        elif kind == "json":
            self.take(formats.json_articles(text, place))
        else:
            self.take(formats.csv_articles(text, place, max_bytes=self.max_bytes))


def _walk(root: str) -> Iterator[tuple[str, str, str | None]]:
    """Yield (path, path relative to root, error) for the files under root, in sorted order.

    Symlinked directories are followed once: a real directory already walked is not entered
    again, so a symlink loop ends.
    """
    visited = {os.path.realpath(root)}
    stack: list[Iterator[tuple[str, str]]] = []

    def push(path: str, rel: str) -> str | None:
        try:
            names = sorted(n for n in os.listdir(path) if not n.startswith("."))
        except OSError as exc:
            return f"cannot read directory: {os_reason(exc)}"
        stack.append(iter([(os.path.join(path, n), f"{rel}{n}") for n in names]))
        return None

    error = push(root, "")
    if error is not None:
        yield root, "", error
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        path, rel = entry
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:  # a broken link, or a path longer than the system takes
            yield path, rel, f"cannot read file: {os_reason(exc)}"
            continue
        if not is_dir:
            yield path, rel, None
            continue
        real = os.path.realpath(path)
        if real in visited:
            log.debug("not walking %s: already walked as %s", path, real)
            continue
        visited.add(real)
        error = push(path, rel + "/")
        if error is not None:
            yield path, rel, error


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB".replace(".0 ", " ")
    return f"{n / 1024 / 1024:.1f} MB".replace(".0 ", " ")


def _over_limit(max_bytes: int) -> str:
    return f"over the maximum size of {_size(max_bytes)}"
