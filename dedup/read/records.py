"""One record (a mapping of fields) to an Article: field names, ids, sources, dates."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dedup.config import record_fields
from dedup.models import Article
from dedup.read.decode import normalise
from dedup.read.record_dates import parse_date

# An Article, and whether its id is the record's own; or the reason the record is unusable.
Result = tuple[Article, bool] | str

# Record fields and the keys or columns that may hold them, matched case-insensitively, the
# first that holds a value winning. Beside dedup's own names, those of the crawlers' outputs:
# news-please (maintext, date_publish, source_domain) and trafilatura's JSON (raw_text, date,
# hostname, sitename; its "source" is the page's URL, see to_article).
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "title": ("title", "headline"),
    "text": ("text", "body", "content", "maintext", "raw_text"),
    "url": ("url", "link"),
    "source": (
        "source",
        "outlet",
        "site",
        "sitename",
        "source-hostname",
        "source_domain",
        "hostname",
    ),
    "lang": ("lang", "language"),
    "published": ("published", "date", "published_at", "pubdate", "date_publish"),
}


@dataclass(frozen=True)
class Fields:
    """Which keys or columns hold each field of an article: :data:`FIELDS`, or for a field the
    user named, that key alone (:meth:`naming`)."""

    names: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=lambda: FIELDS)

    def naming(self, chosen: Mapping[str, str]) -> Fields:
        """These fields read from the named key or column only (case-insensitively); InputError
        for a field dedup does not have, or an empty name."""
        names = dict(self.names)
        for field, key in record_fields(chosen).items():
            names[field] = (key.lower(),)
        return Fields(names)

    def has(self, record: Mapping[str, object], field: str) -> bool:
        return any(str(key).strip().lower() in self.names[field] for key in record)

    def named(self, field: str) -> str | None:
        """The one key the user named for ``field``, or None when it is read from dedup's own."""
        names = self.names[field]
        return names[0] if names != FIELDS[field] else None

    def unmatched(self, keys: Collection[str]) -> list[str]:
        """For each field named for a key that none of ``keys`` (every key of the records
        read, lower case) is, a sentence saying so and which keys the records have."""
        missing = [(f, key) for f in FIELDS if (key := self.named(f)) and key not in keys]
        return [
            f"no record has the key {key!r} named for the {f} field{_keys(keys)}"
            for f, key in missing
        ]


DEFAULT_FIELDS = Fields()
HEADLINE_MAX = 200

_WEB_ADDRESS = re.compile(r"https?://", re.IGNORECASE)
_HOST = re.compile(r"[\w-]+(\.[\w-]+)+")


def to_article(
    record: Mapping[str, object],
    *,
    origin: str,
    auto_id: str,
    name: str,
    fields: Fields = DEFAULT_FIELDS,
    content_ids: bool = False,
) -> Result:
    """Map a record's fields onto an Article; other scalar fields go to ``meta`` as text.

    ``auto_id`` is used when the record has no id of its own; with ``content_ids``, the
    record's URL is, else :func:`content_id` (ids that stay the same from run to run, as a
    story store needs, where ``auto_id`` tells where the record was). ``name`` (the file
    name) is the source of last resort, after the record's own source and its URL's host. A
    source that is a web address (trafilatura's ``source``) is the page's URL, not its outlet.
    A record with a title and no text is not an article: a story cannot be told from a
    headline alone.
    """
    # Each key once (the first spelling wins), its value as normalised text, the raw value kept
    # for dates given as numbers.
    by_name: dict[str, tuple[str, object, str]] = {}
    for key, value in record.items():
        clean_key = normalise(str(key))
        lowered = clean_key.lower()
        if lowered not in by_name:
            text = as_text(value, join=lowered in fields.names["text"])
            by_name[lowered] = (clean_key, value, text)
    found: dict[str, str] = {}
    used: set[str] = set()
    raw_published: object = None
    page_url = ""
    for field, aliases in fields.names.items():
        for alias in aliases:
            if alias not in by_name or not by_name[alias][2]:
                continue
            value = by_name[alias][2]
            if field == "source" and _WEB_ADDRESS.match(value):
                page_url = page_url or value
                used.add(alias)
                continue
            found[field] = value
            used.add(alias)
            if field == "published":
                raw_published = by_name[alias][1]
            break
    meta = {
        key: text
        for lowered, (key, _, text) in by_name.items()
        if key and text and lowered not in used
    }

    title = " ".join(found.get("title", "").split())
    body = found.get("text", "")
    if not body.strip():
        named = fields.named("text")
        if named and named not in by_name:  # a misspelt key, not an article without text
            return f"no key {named!r} for the text{_keys(by_name)}"
        return "title only, no text" if title else "empty text"
    if not title:
        first, _, rest = body.partition("\n")
        if len(first) <= HEADLINE_MAX:
            title, body = first.strip(), rest.strip()
    given_id = found.get("id", "")
    url = found.get("url") or page_url or None
    lang = found.get("lang", "").lower()
    published = parse_date(raw_published)
    if published is None and "published" in found:
        meta["published_raw"] = found["published"]
    if content_ids and not given_id:
        given_id = url or content_id(title, body, found.get("source", ""))
    article = Article(
        id=given_id or auto_id,
        title=title,
        text=body,
        source=found.get("source") or url_host(url) or name,
        url=url,
        # The primary subtag only ("en-US" -> "en"), as language identification gives.
        lang=re.split(r"[-_]", lang, maxsplit=1)[0] or None,
        published=published,
        origin=origin,
        meta=meta,
    )
    return article, bool(given_id)


def content_id(title: str, text: str, source: str = "") -> str:
    """An id made of what a record says: ``sha256:`` and the first 24 hex digits (96 bits: no
    two of a billion records meet by chance) of the hash of its title, text and the source it
    names (the same wire text from two outlets is two articles)."""
    digest = hashlib.sha256("\x00".join((title, text, source)).encode("utf-8", "surrogatepass"))
    return f"sha256:{digest.hexdigest()[:24]}"


def _keys(keys: Collection[str], most: int = 12) -> str:
    """`` (keys: a, b, ...)``: what a record or a corpus has, sorted, the first ``most``."""
    if not keys:
        return ""
    shown = sorted(keys)
    more = ", ..." if len(shown) > most else ""
    return f" (keys: {', '.join(shown[:most])}{more})"


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
