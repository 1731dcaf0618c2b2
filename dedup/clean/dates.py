"""Dates written in free text: every mention of a day, with its year when the text gives one.

One recogniser serves both the cleaner (an article's publication date, :func:`find_date`: a
full date near the top) and the lexical profile (every day of the year a text names, and the
lead's event day).

Forms read, in any case and with or without accents (the text is folded with ``anyascii``):

* ISO and year-first numeric dates: ``2024-12-06``, ``2024-12-06T10:00``, ``2024/12/06``;
* Chinese and Japanese ``2024年12月6日``;
* day and month names, the year optional: ``6 December 2024``, ``December 6th, 2024``,
  ``6. Dezember``, ``6 de diciembre de 2024``, ``1er janvier``, ``6 grudnia``, ``6 Aralık``,
  with month names in English, German (also Austrian ``Jänner``), Spanish, French, Italian,
  Portuguese, Dutch, Polish (nominative and genitive), Turkish and common abbreviations;
* Vietnamese ``ngày 22 tháng 9 năm 2024`` and ``22 tháng 9``;
* numeric dates with a year: ``06.12.2024``, ``6/12/24``, ``06-12-2024``; day first, except
  that English ``6/12/2024`` is month first when the first number can be a month; when the
  preferred reading is impossible the other one is taken (``12/25/2024`` anywhere);
* numeric day and month without a year only after a word that announces a date
  (``Chiều 6.12``, ``am 6.12.``, ``on 6/12``), since a bare ``6.12`` is as often a decimal;
  here only the preferred reading counts (``am 6.20`` is no date).

A date glued to the word before it (``DEUTSCHLAND9. APRIL 2020``, ``alındı.07.06.2020``), as
scraped pages often have, still counts; a number glued before it does not.

Every mention is a real day of the calendar (month 1-12, a day the month has; 29 February
whatever the year, which the caller checks when it needs a real date). A year is a four-digit
number from 1900 to 2100; a two-digit year (``6/12/24``) is not trusted and gives no year.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from dedup.clean.fold import fold, fold_ends

MIN_YEAR = 1900
MAX_YEAR = 2100

# Folded (accent-free, lower-case) month names, one line per language, January first.
_MONTH_NAMES = (
    "january february march april may june july august september october november december",
    "januar februar marz april mai juni juli august september oktober november dezember",
    "janner feber maerz april mai juni juli august september oktober november dezember",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "enero febrero marzo abril mayo junio julio agosto setiembre octubre noviembre diciembre",
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "styczen luty marzec kwiecien maj czerwiec lipiec sierpien wrzesien pazdziernik listopad "
    "grudzien",
    "stycznia lutego marca kwietnia maja czerwca lipca sierpnia wrzesnia pazdziernika listopada "
    "grudnia",
    "ocak subat mart nisan mayis haziran temmuz agustos eylul ekim kasim aralik",
    "jan feb mar apr may jun jul aug sep oct nov dec",
)
_MONTHS: dict[str, int] = {"sept": 9}
for _names in _MONTH_NAMES:
    for _i, _name in enumerate(_names.split(), start=1):
        _MONTHS.setdefault(_name, _i)

_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Patterns run on folded text (ASCII, lower case). Longest month names first, so that
# "juni" is not read as "jun".
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
# A following year: "6 December 2024", "December 6, 2024", "6 de diciembre del 2024".
_THEN_YEAR = r"(?:,?\s+(?:del?\s+)?(\d{4})(?!\d))?"
# Words that announce a day and month written as numbers without a year: Vietnamese
# "ngày/sáng/chiều/tối/trưa/đêm/hôm", German "am/vom/den", French "le/du", Spanish "el",
# Polish "dnia", English "on/since/from".
_CUES = "ngay|sang|chieu|toi|trua|dem|hom|am|vom|den|le|el|du|dnia|on|since|from"

_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)", re.ASCII)
_YEAR_FIRST = re.compile(r"(?<![\d/.])(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?![\d/])", re.ASCII)
# 年 月 日 fold to "nian", "yue", "ri".
_CJK = re.compile(r"(\d{4})\s*nian\s*(\d{1,2})\s*yue\s*(\d{1,2})\s*ri", re.ASCII)
# Day, month and year as numbers, one pattern per separator: a number glued before or after
# with the same separator makes a longer chain (a version, an address), not a date.
_NUMERIC_YEAR = tuple(
    re.compile(rf"(?<!\d)(?<!\d{sep})(\d{{1,2}})({sep})(\d{{1,2}}){sep}(\d{{4}})(?!\d)", re.ASCII)
    for sep in ("/", r"\.", "-")
)
# A two-digit year ("6/12/24") only standing apart from letters and digits.
_NUMERIC_SHORT_YEAR = re.compile(r"\b(\d{1,2})([/.])(\d{1,2})\2(\d\d)\b", re.ASCII)
_CUE_NUMERIC = re.compile(rf"\b(?:{_CUES})\s+(\d{{1,2}})([/.])(\d{{1,2}})\b(?![.,/]?\d)", re.ASCII)
# "º" folds to "o" (Spanish "1º de enero").
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er|o|\.)?\s+(?:de\s+)?({_MONTH})\b\.?{_THEN_YEAR}",
    re.ASCII,
)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![.,]?\d){_THEN_YEAR}", re.ASCII
)
_VIETNAMESE = re.compile(
    r"(?<!\d)(\d{1,2})\s+thang\s+(\d{1,2})\b(?:(?:\s+nam|\s*,)\s+(\d{4})(?!\d))?", re.ASCII
)
_DIGIT = re.compile(r"\d", re.ASCII)


@dataclass(frozen=True, slots=True)
class DateMention:
    """A day named in a text: ``start`` is where the mention begins in the text searched,
    ``end`` where it ends (None when not known)."""

    start: int
    year: int | None
    month: int
    day: int
    end: int | None = None

    def as_date(self) -> dt.date | None:
        """The calendar date, when the mention has a year and that year has the day."""
        if self.year is None:
            return None
        try:
            return dt.date(self.year, self.month, self.day)
        except ValueError:  # 29 February of a common year
            return None


def day_of_year(month: int, day: int) -> int:
    """1..366 in a leap year, so 29 February has a place."""
    return dt.date(2024, month, min(day, _MONTH_DAYS[month - 1])).timetuple().tm_yday


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1]


def _year(digits: str | None) -> int | None:
    """A four-digit year in range, else None."""
    if digits is None or len(digits) != 4:
        return None
    year = int(digits)
    return year if MIN_YEAR <= year <= MAX_YEAR else None


@lru_cache(maxsize=1024)
def _month_first(lang: str | None) -> bool:
    return lang is not None and re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0] == "en"


def _numeric(a: int, b: int, sep: str, month_first: bool, swap: bool) -> tuple[int, int] | None:
    """(month, day) of two numbers: the preferred reading, else (``swap``) the other one."""
    # US month-first only for English slashed dates; a first number over 12 cannot be a month.
    us = month_first and sep == "/" and a <= 12
    readings = ((a, b), (b, a)) if us else ((b, a), (a, b))
    for month, day in readings if swap else readings[:1]:
        if _valid(month, day):
            return month, day
    return None


_Reading = tuple[int | None, int, int] | None  # (year, month, day)


def _year_first(g: tuple[str, ...], month_first: bool) -> _Reading:
    year = _year(g[0])
    return None if year is None else (year, int(g[1]), int(g[2]))


def _numeric_with_year(g: tuple[str, ...], month_first: bool) -> _Reading:
    a, sep, b, digits = g
    year = _year(digits)
    if year is None and len(digits) == 4:  # a four-digit number outside the years is no year
        return None
    md = _numeric(int(a), int(b), sep, month_first, swap=True)
    return None if md is None else (year, *md)


def _cue_numeric(g: tuple[str, ...], month_first: bool) -> _Reading:
    # Without a year to vouch for a date, an impossible reading is a time or a decimal.
    md = _numeric(int(g[0]), int(g[2]), g[1], month_first, swap=False)
    return None if md is None else (None, *md)


def _day_month(g: tuple[str, ...], month_first: bool) -> _Reading:
    return _year(g[2]), _MONTHS[g[1]], int(g[0])


def _month_day(g: tuple[str, ...], month_first: bool) -> _Reading:
    return _year(g[2]), _MONTHS[g[0]], int(g[1])


def _vietnamese(g: tuple[str, ...], month_first: bool) -> _Reading:
    return _year(g[2]), int(g[1]), int(g[0])


_FORMS: tuple[tuple[re.Pattern[str], Callable[[tuple[str, ...], bool], _Reading]], ...] = (
    (_ISO, _year_first),
    (_YEAR_FIRST, _year_first),
    (_CJK, _year_first),
    *((pattern, _numeric_with_year) for pattern in _NUMERIC_YEAR),
    (_NUMERIC_SHORT_YEAR, _numeric_with_year),
    (_CUE_NUMERIC, _cue_numeric),
    (_DAY_MONTH, _day_month),
    (_MONTH_DAY, _month_day),
    (_VIETNAMESE, _vietnamese),
)
# Where each form is in _FORMS, for _starts.
_F_ISO, _F_YEAR_FIRST, _F_CJK = 0, 1, 2
_SEPARATOR_FORMS = {"/": 3, ".": 4, "-": 5}  # _NUMERIC_YEAR, by the separator after the day
_F_SHORT_YEAR, _F_CUE_NUMERIC, _F_DAY_MONTH, _F_MONTH_DAY, _F_VIETNAMESE = 6, 7, 8, 9, 10
_RUN = re.compile(r"\d+", re.ASCII)
_SPACE = frozenset(" \t\n\r\f\v")  # \s in ASCII patterns
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ORDINAL_HEADS = frozenset("snrteo.")  # what may follow a day: st, nd, rd, th, er, o, "."
_CUE_WORDS = frozenset(_CUES.split("|"))


def _to_source(text: str) -> Callable[[int], int]:
    """The offset in ``text`` of an offset in its folded form.

    Folding may change lengths (``ß`` -> ``ss``, ``年`` -> ``Nian``); ``anyascii`` folds one
    character at a time, so lengths are summed character by character.
    """
    if text.isascii():
        return lambda offset: offset
    ends = fold_ends(text)
    return lambda offset: bisect_right(ends, offset)


def _starts(folded: str) -> list[list[int]]:
    """For each of :data:`_FORMS`, the places in ``folded`` where a mention of that form may
    start, in order: every form has a number, and starts at it or at the word before it.
    (A superset: each place is then tried with the form's pattern.)"""
    starts: list[list[int]] = [[] for _ in _FORMS]
    for run in _RUN.finditer(folded):
        s, e = run.span()
        n = e - s
        after = folded[e : e + 1]
        if n == 4:
            if after == "-":
                starts[_F_ISO].append(s)
            elif after in ("/", "."):
                starts[_F_YEAR_FIRST].append(s)
        if n >= 4 and (after == "n" or after in _SPACE):
            starts[_F_CJK].append(e - 4)
        if n > 2:
            continue
        if after in _SEPARATOR_FORMS:
            starts[_SEPARATOR_FORMS[after]].append(s)
            if after != "-":
                starts[_F_SHORT_YEAR].append(s)
        if after in _SPACE:
            starts[_F_DAY_MONTH].append(s)
            starts[_F_VIETNAMESE].append(s)
        elif after in _ORDINAL_HEADS:
            starts[_F_DAY_MONTH].append(s)
        if s and folded[s - 1] in _SPACE:
            word, at = _word_before(folded, s)
            if word in _MONTHS:
                starts[_F_MONTH_DAY].append(at)
            elif word in _CUE_WORDS and after in ("/", "."):
                starts[_F_CUE_NUMERIC].append(at)
    return starts


def _word_before(folded: str, s: int) -> tuple[str, int]:
    """The word that ends before the spaces (and a dot) before ``s``, and where it starts;
    "" when it does not stand apart from letters and digits before it."""
    k = s - 1
    while k >= 0 and folded[k] in _SPACE:
        k -= 1
    if k >= 0 and folded[k] == ".":
        dot = k
        k -= 1
    else:
        dot = -1
    end = k + 1
    while k >= 0 and "a" <= folded[k] <= "z":
        k -= 1
    if k == end - 1 or (k >= 0 and folded[k] in _ASCII_WORD):
        return "", 0
    word = folded[k + 1 : end]
    # A cue has no dot after it.
    return (word, k + 1) if dot < 0 or word in _MONTHS else ("", 0)


def _mentions(folded: str, lang: str | None) -> Iterable[tuple[int, int | None, int, int, int]]:
    """What ``pattern.finditer`` finds for each form, the pattern tried only where a mention
    may start (:func:`_starts`): the same matches, in the same order."""
    month_first = _month_first(lang)
    for (pattern, read), starts in zip(_FORMS, _starts(folded), strict=True):
        last = 0
        for start in starts:
            if start < last:
                continue
            m = pattern.match(folded, start)
            if m is None:
                continue
            last = m.end()
            reading = read(m.groups(), month_first)
            if reading is not None and _valid(reading[1], reading[2]):
                yield (start, *reading, last)


def find_mentions(text: str, lang: str | None) -> list[DateMention]:
    """Every date mention in ``text``, in text order (see the module's notes for the forms).

    ``lang`` (an ISO code such as ``en`` or ``en-US``) only decides how ``6/12/2024`` reads.
    Forms may overlap ("on 5 May 10 people ..." names 5 May and May 10): each is reported.
    """
    folded = fold(text)
    if _DIGIT.search(folded) is None:  # every form has a number: most lines have none
        return []
    found = sorted(_mentions(folded, lang), key=lambda f: (f[0], f[2], f[3]))
    if not found:
        return []
    source = _to_source(text)
    return [
        DateMention(source(start), year, month, day, source(end))
        for start, year, month, day, end in found
    ]


def month_days(folded: str, lang: str | None) -> list[tuple[int, int]]:
    """(month, day) of each of :func:`find_mentions` of a text, given the text folded
    (:func:`dedup.clean.fold.fold`; the profile folds a segment once for all its lines)."""
    if _DIGIT.search(folded) is None:
        return []
    found = sorted(_mentions(folded, lang), key=lambda f: (f[0], f[2], f[3]))
    return [(month, day) for _, _, month, day, _ in found]


# --- the publication date ------------------------------------------------------------------

# Dates are read from the first characters only: datelines and stamps sit there, while dates
# further down refer to other events ("since 9/2023") or to footers (licence dates).
DATE_WINDOW = 500
# Every full date has a four-digit year: most leads have none, and need no further look.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def find_date(text: str, lang: str | None) -> dt.date | None:
    """The first full date (with a year) in the first characters of ``text``, or None.

    Reads the forms of :func:`find_mentions`: ISO dates, numeric dates (day first; month
    first for English ``mm/dd/yyyy``), month names in several languages, Vietnamese
    ``6 tháng 12 năm 2024`` and Chinese ``2024年12月6日``.
    """
    window = text[:DATE_WINDOW]
    if _YEAR.search(window) is None:
        return None
    for mention in find_mentions(window, lang):
        date = mention.as_date()
        if date is not None:
            return date
    return None
