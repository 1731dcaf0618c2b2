"""One record (a mapping of fields) to an Article: field names, ids, sources, dates."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from email.utils import parsedate_tz
from urllib.parse import urlsplit

from dedup.models import Article
from dedup.read.decode import normalise

# An Article, and whether its id is the record's own; or the reason the record is unusable.
Result = tuple[Article, bool] | str

# Record fields and the key or column names accepted for them, matched case-insensitively.
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "title": ("title", "headline"),
    "text": ("text", "body", "content"),
    "url": ("url", "link"),
    "source": ("source", "site", "outlet"),
    "lang": ("lang", "language"),
    "published": ("published", "date", "published_at", "pubdate"),
}
HEADLINE_MAX = 200

_HOST = re.compile(r"[\w-]+(\.[\w-]+)+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_NUMERIC_DATE = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})$|(\d{4})(\d{2})(\d{2})$")
_TEXT_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


def has_field(record: Mapping[str, object], field: str) -> bool:
    return any(str(key).strip().lower() in FIELDS[field] for key in record)


def to_article(record: Mapping[str, object], *, origin: str, auto_id: str, name: str) -> Result:
    """Map a record's fields onto an Article; other scalar fields go to ``meta`` as text.

    ``auto_id`` is used when the record has no id of its own; ``name`` (the file name) is the
    source of last resort, after the record's own source and its URL's host.
    """
    # Each key once (the first spelling wins), its value as normalised text, the raw value kept
    # for dates given as numbers.
    by_name: dict[str, tuple[str, object, str]] = {}
    for key, value in record.items():
        clean_key = normalise(str(key))
        lowered = clean_key.lower()
        if lowered not in by_name:
            text = as_text(value, join=lowered in FIELDS["text"])
            by_name[lowered] = (clean_key, value, text)
    fields: dict[str, str] = {}
    used: set[str] = set()
    raw_published: object = None
    for field, aliases in FIELDS.items():
        for alias in aliases:
            if alias in by_name and by_name[alias][2]:
                fields[field] = by_name[alias][2]
                used.add(alias)
                if field == "published":
                    raw_published = by_name[alias][1]
                break
    meta = {
        key: text
        for lowered, (key, _, text) in by_name.items()
        if key and text and lowered not in used
    }

    title = " ".join(fields.get("title", "").split())
    body = fields.get("text", "")
    if not title and body:
        first, _, rest = body.partition("\n")
        if len(first) <= HEADLINE_MAX:
            title, body = first.strip(), rest.strip()
    if not title and not body:
        return "empty text"
    given_id = fields.get("id", "")
    url = fields.get("url") or None
    lang = fields.get("lang", "").lower()
    published = parse_date(raw_published)
    if published is None and "published" in fields:
        meta["published_raw"] = fields["published"]
    article = Article(
        id=given_id or auto_id,
        title=title,
        text=body,
        source=fields.get("source") or url_host(url) or name,
        url=url,
        # The primary subtag only ("en-US" -> "en"), as language identification gives.
        lang=re.split(r"[-_]", lang, maxsplit=1)[0] or None,
        published=published,
        origin=origin,
        meta=meta,
    )
    return article, bool(given_id)


def as_text(value: object, *, join: bool = False) -> str:
    """A field's value as normalised text; "" for nothing and for nested structures.

    With ``join``, a list of strings (a body given as paragraphs) becomes one text.
    """
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, bool | int | float):
        return str(value)
    if join and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return normalise("\n\n".join(value))
    return ""


def url_host(url: str | None) -> str:
    """The host of a URL without ``www.``; "" when there is none."""
    if not url:
        return ""
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    if not _HOST.fullmatch(host):
        return ""
    return host.removeprefix("www.")


def parse_date(value: object) -> dt.date | None:
    """ISO 8601, RFC 2822, year-first numeric, English month-name dates, Unix time; else None.

    The date is the one written: a time zone does not move it to another day. Day-first and
    month-first numeric forms (06/12/2024) are ambiguous and stay unparsed.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):  # seconds, or milliseconds when that large
        seconds = value / 1000 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    try:
        if match := _ISO_DATE.match(text):
            return dt.date(*map(int, match.groups()))
        if match := _NUMERIC_DATE.match(text):
            year, month, day = (int(p) for p in match.groups() if p is not None)
            return dt.date(year, month, day)
        parsed = parsedate_tz(text)
        if parsed is not None and parsed[0] and parsed[1] and parsed[2]:
            return dt.date(parsed[0], parsed[1], parsed[2])
    except ValueError:
        return None
    for form in _TEXT_DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None
