"""Readers per format. Each yields ``(origin, Result)``: an Article, or why a record failed."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from dedup.read.own import REASONS, own_document
from dedup.read.records import DEFAULT_FIELDS, Fields, Result, to_article

Found = Iterator[tuple[str, Result]]


@dataclass(frozen=True)
class Place:
    """Where records come from: how the file is shown (``display``, the start of each record's
    origin), the base of made-up ids, its name (the source of last resort), which keys or
    columns hold which field, and whether a record without an id gets one made of its URL or
    content rather than of its place (``content_ids``, see :func:`to_article`)."""

    display: str
    id_base: str
    name: str
    fields: Fields = DEFAULT_FIELDS
    content_ids: bool = False
    #: Where the keys of the records read with ``fields`` are gathered (lower case), if at all.
    keys: set[str] | None = field(default=None, compare=False)

    def article(self, record: Mapping[str, object], suffix: str = "") -> tuple[str, Result]:
        """A record found at ``display + suffix`` (``:LINE``, ``:#INDEX``), as an Article."""
        origin = self.display + suffix
        if self.keys is not None:
            self.keys.update(str(key).strip().lower() for key in record)
        return origin, to_article(
            record,
            origin=origin,
            auto_id=self.id_base + suffix,
            name=self.name,
            fields=self.fields,
            content_ids=self.content_ids,
        )


def text_record(text: str, *, markdown: bool, fields: Fields = DEFAULT_FIELDS) -> dict[str, object]:
    """Plain text or Markdown: the first non-empty line is the title, the rest the body.

    Markdown loses its ``#`` heading marks or setext underline; simple ``key: value`` lines of
    a front matter block become record fields (a title there is the title).
    """
    record: dict[str, object] = {}
    lines = text.split("\n")
    if markdown and lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep and key.strip() and not key.startswith((" ", "\t", "-")):
                    record[key.strip()] = value.strip().strip("\"'")
            lines = lines[end + 1 :]
    if fields.has(record, "title"):
        record["text"] = "\n".join(lines)
        return record
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    title, rest = (lines[start], lines[start + 1 :]) if start < len(lines) else ("", [])
    if markdown:
        if title.lstrip().startswith("#"):
            title = title.strip().strip("#")
        elif rest and re.fullmatch(r"\s*(=+|-+)\s*", rest[0]):  # a setext heading underline
            rest = rest[1:]
    record["title"] = title
    record["text"] = "\n".join(rest)
    return record


# Scripts and styles hold no article text; a huge one (an 11 MB inline script) made the
# parser give up on the body after it. JSON-LD stays: it carries the page's metadata.
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b(?![^>]*ld\+json)[^>]*>.*?</\1\s*>", re.I | re.S)
# A start tag this long is no page's markup but padding or an attack (100,000 attributes
# took the parser 115 s): it keeps its name, not its attributes.
_HUGE_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)\b[^<>]{4096,}>")
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_XML_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe_reference(match: re.Match[str]) -> str:
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    bad = (
        code > 0x10FFFF
        or 0xD800 <= code <= 0xDFFF
        or code in (0xFFFE, 0xFFFF)
        or (code < 0x20 and code not in (0x9, 0xA, 0xD))
    )
    return " " if bad else match.group(0)


def _parseable(html: str) -> str:
    """The page without what makes the parser drop it or crawl: characters XML cannot hold
    (literal or as ``&#x1;`` references, which made the whole page "no article text"),
    scripts and styles, and the attributes of start tags longer than 4 KB."""
    html = _SCRIPT_OR_STYLE.sub(" ", html)
    html = _HUGE_TAG.sub(r"<\1>", html)
    html = _CHAR_REF.sub(_xml_safe_reference, html)
    return _XML_BAD_CHARS.sub(" ", html)


_START_TAG = re.compile(r"<[A-Za-z]")


def _huge_tree(page: str) -> Any:
    """The page parsed as trafilatura parses it, but with libxml2's depth limit lifted."""
    from lxml import html

    parser = html.HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        huge_tree=True,
    )
    return html.fromstring(page.encode("utf-8", "replace"), parser=parser)


def html_record(text: str) -> dict[str, object] | str:
    """An HTML page's main text and metadata, or the reason there is none."""
    # Imported here: trafilatura is slow to import and only HTML needs it.
    from trafilatura import bare_extraction
    from trafilatura.settings import set_date_params

    def extract(content: object) -> dict[str, Any]:
        doc = bare_extraction(
            content,
            with_metadata=True,
            include_comments=False,
            # Dates from the page's metadata and URL only; the cleaning stage reads the body.
            date_extraction_params=set_date_params(False),
        )
        return {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()

    page = _parseable(text)
    try:
        found = extract(page)
        if not str(found.get("text") or "").strip() and len(_START_TAG.findall(page)) > 255:
            # libxml2 stops at 255 nested elements unless asked for a huge tree: an article
            # inside 255 <div>s was "no article text".
            found = extract(_huge_tree(page))
    except Exception as exc:  # lxml and trafilatura raise many kinds on broken pages
        return f"HTML could not be parsed ({type(exc).__name__}: {exc})"
    lines = [line.strip() for line in str(found.get("text") or "").split("\n") if line.strip()]
    title = str(found.get("title") or "").strip()
    if title and lines and lines[0] == title:  # the page's <h1> repeats the title
        lines = lines[1:]
    if not lines:
        return "no article text found in HTML"
    return {
        "title": title,
        # trafilatura gives one block per line; blank lines keep them apart as paragraphs.
        "text": "\n\n".join(lines),
        "url": found.get("url"),
        "source": found.get("sitename"),
        "published": found.get("date"),
        "lang": found.get("language"),
        "author": found.get("author"),
    }


_WRAPPER_DEPTH = 4


def _unwrap(value: object, fields: Fields) -> object:
    """The articles inside a wrapper object: ``{"articles": [...], "tags": [...]}``,
    ``{"data": {"articles": [...]}}``. A wrapper has no text of its own and one list of
    objects (other values beside it are metadata), or else one object to look into."""
    for _ in range(_WRAPPER_DEPTH):
        if not isinstance(value, dict) or fields.has(value, "text"):
            return value
        lists = [
            v
            for v in value.values()
            if isinstance(v, list) and v and all(isinstance(item, dict) for item in v)
        ]
        inner = [v for v in value.values() if isinstance(v, dict)]
        if len(lists) == 1:
            return lists[0]
        if lists or len(inner) != 1:
            return value
        value = inner[0]
    return value


def json_articles(text: str, place: Place) -> Found:
    """A JSON object, an array of objects, or a wrapper object holding one such array."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line in a .json file: read it as JSONL
            lines = enumerate(text.split("\n"), 1)
            yield from jsonl_articles(lines, place)
        else:
            yield place.display, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        return
    except ValueError as exc:  # a number too long to convert
        yield place.display, f"invalid JSON ({exc})"
        return
    except RecursionError:
        yield place.display, "invalid JSON (nested too deeply)"
        return
    if own_document(value):  # an earlier run's report.json
        yield place.display, REASONS["json"]
        return
    value = _unwrap(value, place.fields)
    if isinstance(value, dict):
        yield place.article(value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield place.article(item, f":#{index}")
            else:
                yield f"{place.display}:#{index}", "JSON value is not an object"
    else:
        yield place.display, "JSON value is not an object"


_CHUNK = 1 << 20


def read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, read a chunk at a time: a limit far above the data
    (``--max-bytes 30000000000``) must not allocate the limit.

    ``stream`` is buffered: a chunk shorter than asked is its end, never read again (a
    terminal would wait for another Ctrl-D)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        ask = min(_CHUNK, left)
        chunk = stream.read(ask)
        chunks.append(chunk)
        left -= len(chunk)
        if len(chunk) < ask:
            break
    return b"".join(chunks)


def jsonl_articles(lines: Iterable[tuple[int, str]], place: Place) -> Found:
    """One JSON object per numbered line; blank lines are passed over."""
    for lineno, line in lines:
        if not line.strip():
            continue
        origin = f"{place.display}:{lineno}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield origin, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        except ValueError as exc:  # a number too long to convert
            yield origin, f"invalid JSON ({exc})"
            continue
        except RecursionError:
            yield origin, "invalid JSON (nested too deeply)"
            continue
        if not isinstance(value, dict):
            yield origin, "JSON value is not an object"
            continue
        yield place.article(value, f":{lineno}")


def csv_articles(text: str, place: Place, *, max_bytes: int) -> Found:
    """CSV with a header row; the delimiter is the one of , ; tab | the header uses most."""
    return csv_lines(io.StringIO(text, newline=""), place, max_bytes=max_bytes)


def csv_lines(
    lines: Iterable[str],
    place: Place,
    *,
    max_bytes: int,
    cut: Callable[[], str | None] = lambda: None,
) -> Found:
    """CSV read from its lines, line endings kept (a quoted field may span lines).

    ``cut`` says, once ``lines`` have ended, why they ended before the data did (a size
    limit), or None: a row broken off there is that reason, not a broken CSV.
    """
    # Article bodies outgrow csv's default 128 KiB field limit; files are bounded by max_bytes.
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
    clean = (line.replace("\x00", "") for line in lines)
    header_line = next(clean, None)
    if header_line is None:
        yield place.display, cut() or "empty text"
        return
    delimiter = max(",;\t|", key=header_line.count)  # a tie keeps ","
    reader = csv.reader(itertools.chain([header_line], clean), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield f"{place.display}:1", cut() or f"broken CSV ({exc})"
        return
    if header is None:
        yield place.display, "empty text"
        return
    columns = [column.strip() for column in header]
    if not any(column.lower() in place.fields.names["text"] for column in columns):
        named = place.fields.named("text")
        text = f" {named!r}" if named else ""
        yield place.display, f"CSV has no text column{text} (columns: {', '.join(columns)})"
        return
    end = reader.line_num
    while True:
        start = end + 1  # a quoted field can span lines: a row starts after the last one ended
        try:
            row = next(reader, None)
        except csv.Error as exc:
            reason = cut() or f"broken CSV, the rest of the file is not read ({exc})"
            yield f"{place.display}:{start}", reason
            return
        if row is None:
            cut_off = cut()
            if cut_off is not None:
                yield f"{place.display}:{start}", cut_off
            return
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        record: dict[str, object] = {}
        for column, cell in zip(columns, row, strict=False):
            if not str(record.get(column, "")).strip():  # of two same-named columns, the
                record[column] = cell  # first that holds something
        yield place.article(record, f":{start}")
