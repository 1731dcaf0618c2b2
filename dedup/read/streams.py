"""Byte streams read a line at a time, never more than ``max_bytes`` of them: standard input
in each of its formats (JSONL, CSV, plain text) and ``.jsonl`` files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from dedup.read.decode import decode, decode_line, has_wide_encoding, looks_binary
from dedup.read.formats import Found, Place, csv_lines, jsonl_articles, read_at_most
from dedup.read.records import Result

_HEAD = 8192  # bytes sniffed at the start of a stream


class StreamLines:
    """The numbered lines of a byte stream, decoded, each with its line ending.

    Iterate once. No more than ``max_bytes`` of the stream is read, and only whole lines
    within them are given; afterwards :meth:`stop` says why the lines ended before the
    stream did (binary data, the size limit), if they did. ``limit`` words the size limit.
    """

    def __init__(self, stream: BinaryIO, *, max_bytes: int, limit: str) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._limit = limit
        self._stopped: tuple[str, str] | None = None  # (origin suffix, reason)

    def stopped(self) -> str | None:
        """Why the lines ended early, or None when they ended with the stream."""
        return self._stopped[1] if self._stopped else None

    def stop(self, place: Place) -> Found:
        """The skip to report when the lines ended early: nothing, or one ``(origin, reason)``."""
        if self._stopped is not None:
            suffix, reason = self._stopped
            yield place.display + suffix, reason

    def __iter__(self) -> Iterator[tuple[int, str]]:
        max_bytes = self._max_bytes
        head = read_at_most(self._stream, min(_HEAD, max_bytes + 1))
        # A short head is the whole stream: a terminal's Ctrl-D ends it once, not twice.
        rest = self._stream if len(head) == min(_HEAD, max_bytes + 1) else None
        if has_wide_encoding(head):
            # UTF-16/32 (or binary): its newline bytes do not split lines, so decode it whole.
            more = read_at_most(rest, max_bytes + 1 - len(head)) if rest else b""
            data = head + more
            if len(data) > max_bytes:
                self._stopped = ("", f"input is {self._limit}; it is not read")
                return
            text = decode(data)
            if text is None:
                self._stopped = ("", "binary file")
                return
            *whole, last = text.split("\n")
            yield from enumerate([line + "\n" for line in whole] + ([last] if last else []), 1)
            return
        if looks_binary(head):
            self._stopped = ("", "binary file")
            return
        reader = _Prefixed(head.removeprefix(b"\xef\xbb\xbf"), rest)
        budget = max_bytes
        lineno = 0
        while raw := reader.readline(budget + 1):
            lineno += 1
            budget -= len(raw)
            if budget < 0:
                self._stopped = (f":{lineno}", f"input is {self._limit}; the rest is not read")
                return
            yield lineno, decode_line(raw)


class _Prefixed:
    """A byte stream whose first bytes were already read (to sniff them): reads them again.
    ``stream`` is None when those bytes were all of it."""

    def __init__(self, head: bytes, stream: BinaryIO | None) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream

    def readline(self, limit: int) -> bytes:
        line = self._head.readline(limit)
        if line.endswith(b"\n") or len(line) >= limit or self._stream is None:
            return line
        return line + self._stream.readline(limit - len(line))


def jsonl_stream(stream: BinaryIO, place: Place, *, max_bytes: int, limit: str) -> Found:
    """JSONL: one object a line."""
    lines = StreamLines(stream, max_bytes=max_bytes, limit=limit)
    yield from jsonl_articles(lines, place)
    yield from lines.stop(place)


def csv_stream(stream: BinaryIO, place: Place, *, max_bytes: int, limit: str) -> Found:
    """CSV with a header row, as a ``.csv`` file is read; rows the size limit broke off are
    one skip that says so."""
    lines = StreamLines(stream, max_bytes=max_bytes, limit=limit)
    yield from csv_lines((line for _, line in lines), place, max_bytes=max_bytes, cut=lines.stopped)


def text_stream(stream: BinaryIO, place: Place, *, max_bytes: int, limit: str) -> Found:
    """Plain text: articles separated by blank lines, the first line of each its title and
    the lines after it its text. An article's origin and made-up id end with the number of
    its first line."""
    lines = StreamLines(stream, max_bytes=max_bytes, limit=limit)
    block: list[str] = []
    first = 0
    for lineno, line in lines:
        if line.strip():
            first = first if block else lineno
            block.append(line.rstrip("\r\n"))
        elif block:
            yield _text_article(block, first, place)
            block = []
    cut = lines.stopped()
    if block and cut is not None:  # the size limit broke the last article off: say where
        yield f"{place.display}:{first}", cut
        return
    if block:
        yield _text_article(block, first, place)
    yield from lines.stop(place)


def _text_article(block: list[str], first: int, place: Place) -> tuple[str, Result]:
    record = {"title": block[0].strip(), "text": "\n".join(block[1:])}
    return place.article(record, f":{first}")
