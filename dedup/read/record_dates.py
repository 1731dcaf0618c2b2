"""The dates a record gives in its fields: when it was published, when it was crawled.

A record's date field is written by a machine (ISO 8601, RFC 2822, Unix time) or by a person
in any language (``6. Dezember 2024``, ``6 грудня 2024``, ``2024年12月6日``). The machine forms
are read here, exactly; the rest by ``dateparser`` (absolute dates with a day, a month and a
year only). Two guarantees hold for every form:

* the date is the one written: a time or a time zone after it does not move it to another day
  (``2024-12-06T23:30:00-05:00`` is 6 December);
* a numeric day and month that could be read either way stay unread (``06/12/2024``); one
  reading only (``13/12/2024``, ``12/13/2024``, ``06/06/2024``) is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from email.utils import parsedate_tz
from functools import lru_cache
from typing import Any

__all__ = ["CRAWL_KEYS", "crawl_date", "parse_date"]

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_NUMERIC_DATE = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})$|(\d{4})(\d{2})(\d{2})$")
# Year first with one-digit parts or a time after it: "2024-1-5", "2024/12/06 10:00".
_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d/.-])")
# Day and month as numbers, then the year: "06/12/2024", "13.12.2024 10:00", "Fri 6-12-2024".
_DAY_MONTH_NUMBERS = re.compile(r"(?<![\d/.-])(\d{1,2})([-/.])(\d{1,2})\2(\d{2}|\d{4})(?![\d/.-])")
_TEXT_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")
# dateparser reads a date only when the text names a four-digit year it then returns: a
# sentence without one holds no date with a year, and a guess is no date.
_FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
WORDED_MAX_CHARS = 100
MIN_YEAR = 1900
MAX_YEAR = 2100

#: Keys of a record's extra fields (kept in ``Article.meta``) that hold when it was crawled
#: or downloaded: news-please's ``date_download`` and the names other crawlers use.
CRAWL_KEYS = (
    "date_download",
    "date_crawled",
    "crawl_date",
    "crawled",
    "crawled_at",
    "crawl_time",
    "downloaded",
    "downloaded_at",
    "fetched",
    "fetched_at",
    "fetch_date",
    "retrieved",
    "retrieved_at",
    "scraped_at",
)


def parse_date(value: object) -> dt.date | None:
    """The date a record's field gives, or None (see the module's notes for the guarantees).

    Read, in this order: Unix time (seconds, or milliseconds when that large); ISO 8601 and
    year-first numeric dates (``2024-12-06``, ``2024/12/6 10:00``, ``20241206``); a numeric
    day and month with a four-digit year when only one reading is possible; RFC 2822; English
    month names; and any other text with a four-digit year in the languages ``dateparser``
    knows (``6. Dezember 2024, 10:00 Uhr``). Relative dates (``last Friday``, ``3 days ago``)
    and dates without a day (``December 2024``) stay unread: they are no record's date.
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
        if match := _YEAR_FIRST.match(text):
            return dt.date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
    except ValueError:
        return None
    if match := _DAY_MONTH_NUMBERS.search(text):
        # Numbers decide alone: no other reader may guess the order they left open.
        return _day_and_month(int(match.group(1)), int(match.group(3)), match.group(4))
    try:
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
    return _worded(text)


def _day_and_month(a: int, b: int, year_digits: str) -> dt.date | None:
    """``a/b/year`` when one reading is possible: a number over 12 is the day, two equal
    numbers read the same both ways. A two-digit year could be the first number as well."""
    if len(year_digits) != 4:
        return None
    readings = {(month, day) for month, day in ((a, b), (b, a)) if 1 <= month <= 12}
    if len(readings) != 1:
        return None
    month, day = readings.pop()
    try:
        return dt.date(int(year_digits), month, day)
    except ValueError:
        return None


_DATEPARSER_SETTINGS: dict[str, Any] = {
    "PARSERS": ["absolute-time"],  # no "yesterday", no Unix time, no "3 days ago"
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,  # the time as written, never moved to another zone
}


@lru_cache(maxsize=4096)
def _worded(text: str) -> dt.date | None:
    """A date written in words in any language dateparser knows, or None. Only a short text
    naming a four-digit year is tried, and the year read must be the one written."""
    if len(text) > WORDED_MAX_CHARS:
        return None
    years = {int(y) for y in _FOUR_DIGIT_YEAR.findall(text)}
    if not any(MIN_YEAR <= y <= MAX_YEAR for y in years):
        return None
    # Imported here: dateparser loads its languages slowly and most records never need it.
    import dateparser

    try:
        found = dateparser.parse(text, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError, TypeError):  # a text it cannot hold
        return None
    if not isinstance(found, dt.datetime) or found.year not in years:
        return None
    return found.date()


def crawl_date(meta: Mapping[str, str]) -> dt.date | None:
    """When the record was crawled or downloaded, from its extra fields (:data:`CRAWL_KEYS`,
    any case), or None."""
    by_key = {key.strip().lower(): value for key, value in meta.items()}
    for key in CRAWL_KEYS:
        if key in by_key:
            found = parse_date(by_key[key])
            if found is not None:
                return found
    return None
