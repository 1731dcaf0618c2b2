"""Date mentions in free text: forms, languages, years, cue words, validation and order; and
the publication date read near the top of an article."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import accumulate

import pytest
from anyascii import anyascii
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.clean import dates
from dedup.clean.dates import DateMention, day_of_year, find_date, find_mentions
from dedup.clean.fold import fold, fold_ends


def days(text: str, lang: str | None = None) -> list[tuple[int | None, int, int]]:
    return [(m.year, m.month, m.day) for m in find_mentions(text, lang)]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # English, both orders, ordinals, abbreviations
        ("WASHINGTON, December 6, 2024 - The", "en", (2024, 12, 6)),
        ("on the 6th of December", "en", None),  # "of" between: not a form
        ("Published 6th December 2024", "en", (2024, 12, 6)),
        ("Dec. 6th, 2024", "en", (2024, 12, 6)),
        ("since Sept. 22 the talks", "en", (None, 9, 22)),
        # German, also Austrian month names and folded umlauts
        ("am 6. Dezember 2024 in Berlin", "de", (2024, 12, 6)),
        ("am 16. MÄRZ", "de", (None, 3, 16)),
        ("Finale am 25. Jänner", "de", (None, 1, 25)),
        # Spanish, French, Italian, Portuguese, Dutch
        ("Madrid, 6 de diciembre de 2024", "es", (2024, 12, 6)),
        ("el 1º de enero del 2024", "es", (2024, 1, 1)),
        ("le 1er janvier 2024", "fr", (2024, 1, 1)),
        ("le 6 DÉCEMBRE", "fr", (None, 12, 6)),
        ("il 6 dicembre 2024", "it", (2024, 12, 6)),
        ("em 6 de março de 2024", "pt", (2024, 3, 6)),
        ("op 6 maart 2024", "nl", (2024, 3, 6)),
        # Polish nominative and genitive, Turkish
        ("w dniu 1 stycznia 1990 r.", "pl", (1990, 1, 1)),
        ("9 grudzień komitet", "pl", (None, 12, 9)),
        ("21 Şubat 2020 Cuma", "tr", (2020, 2, 21)),
        ("6 Aralık", "tr", (None, 12, 6)),
        # Vietnamese, Chinese/Japanese
        ("Hà Nội, ngày 22 tháng 9 năm 2024", "vi", (2024, 9, 22)),
        ("Hà Nội, 22 tháng 9, 2024", "vi", (2024, 9, 22)),
        ("Chiều 22 tháng 9, tại Hà Nội", "vi", (None, 9, 22)),
        ("2024年12月6日", "zh", (2024, 12, 6)),
        ("２０２４年１２月６日", "ja", (2024, 12, 6)),
        # ISO and year-first numbers
        ("Updated 2024-12-07T10:00:00Z", None, (2024, 12, 7)),
        ("Haberler / 2020/06/12 / Rusya", "tr", (2020, 6, 12)),
        # numbers with a year: day first, English "/" month first when it can be
        ("Berlin, 06.12.2024. Der Bundestag", "de", (2024, 12, 6)),
        ("HÀ NỘI, 6/12/2024 - Chiều nay", "vi", (2024, 12, 6)),
        ("12/06/2024", "en", (2024, 12, 6)),
        ("12/06/2024", "en-US", (2024, 12, 6)),
        ("12/06/2024", "vi", (2024, 6, 12)),
        ("13/06/2024", "en", (2024, 6, 13)),  # 13 is no month
        ("12/25/2024", "de", (2024, 12, 25)),  # 25 is no month
        ("06.12.2024", "en", (2024, 12, 6)),  # dots are day first in English too
        ("06-12-2024", "es", (2024, 12, 6)),
        ("6/12/24", "en", (None, 6, 12)),  # a two-digit year is not trusted
        # glued to the word before, as scraped pages often are
        ("BERLIN, DEUTSCHLAND9. APRIL 2020QUELLE", "de", (2020, 4, 9)),
        ("Insolvenzplan19.06.2020 / 17:59 CET", "de", (2020, 6, 19)),
        ("gözaltına alındı.07.06.2020 tarihinde", "tr", (2020, 6, 7)),
        ("(pte023/24.04.2020/13:00)", "de", (2020, 4, 24)),
    ],
)
def test_forms_and_languages(
    text: str, lang: str | None, expected: tuple[int | None, int, int] | None
) -> None:
    assert days(text, lang) == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Chiều 6.12, tại Hà Nội", "vi", [(None, 12, 6)]),
        ("Sáng 2/4 hai bên", "vi", [(None, 4, 2)]),
        ("Das Treffen am 6.12. in Berlin", "de", [(None, 12, 6)]),
        ("The deal closed on 6/12", "en", [(None, 6, 12)]),
        ("The deal closed on 6.12", "en", [(None, 12, 6)]),
        ("fue el 25/12", "es", [(None, 12, 25)]),
        # without a cue, or with an impossible reading, a day and month is a number
        ("Shares rose 6.12 percent", "en", []),
        ("Giá tăng 6.12 phần trăm", "vi", []),
        ("on 3.25 cents", "de", []),
        ("from 6.12.5 to 6.13", "en", []),
    ],
)
def test_day_and_month_as_numbers_need_a_cue(
    text: str, lang: str, expected: list[tuple[int | None, int, int]]
) -> None:
    assert days(text, lang) == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2024",
        "30.02.2024",
        "31 February",
        "April 31, 2024",
        "2024-13-01",
        "2024-02-30",
        "0 tháng 9",
        "32 March",
        "ngày 6.13",
        "3.5 million people, 2.5 billion dollars, 1,000 troops",
        "a rise of 6.12% to 12.5 billion",
    ],
)
def test_impossible_dates_and_decimals_are_not_mentions(text: str) -> None:
    assert find_mentions(text, "en") == []


def test_a_day_glued_to_the_sentence_before_counts() -> None:
    assert days("internetowej agencji.9 grudzień komitet", "pl") == [(None, 12, 9)]


def test_years() -> None:
    # out of range: the mention stays, without a year; a numeric date needs a real year
    assert days("on 4 July 1776 the", "en") == [(None, 7, 4)]
    assert days("5 March 1000 people", "en") == [(None, 3, 5)]
    assert days("06.12.1850", "de") == []
    assert days("1850-12-06", None) == []
    assert days("6 December 2100 and 6 December 2101", "en") == [(2100, 12, 6), (None, 12, 6)]
    # 29 February is a day whatever the year; as_date knows the calendar
    leap, common = find_mentions("29.02.2024 und 29.02.2023", "de")
    assert leap.as_date() == dt.date(2024, 2, 29)
    assert (common.year, common.month, common.day) == (2023, 2, 29)
    assert common.as_date() is None
    assert DateMention(0, None, 12, 6).as_date() is None


def test_mentions_come_in_text_order() -> None:
    text = "Updated 2024-12-07, first published December 6, 2024; talks since 1 April. Chiều 2.4"
    assert days(text, "en") == [(2024, 12, 7), (2024, 12, 6), (None, 4, 1), (None, 4, 2)]
    starts = [m.start for m in find_mentions(text, "en")]
    assert starts == sorted(starts)
    # two forms may read the same words: both are reported, in order
    assert days("on 5 May 10 people died", "en") == [(None, 5, 5), (None, 5, 10)]


def test_start_is_an_offset_in_the_text_given() -> None:
    # Folding lengthens "ß" and CJK characters; offsets still point into the original.
    text = "Größe: 北京 2024年12月6日, am 7. Dezember und ngày 8 tháng 12"
    found = find_mentions(text, "de")
    assert [text[m.start :][:2] for m in found] == ["20", "7.", "8 "]
    assert [m.day for m in found] == [6, 7, 8]


def test_no_digits_no_mentions() -> None:
    assert find_mentions("", None) == []
    assert find_mentions("Tháng Chín, December, März", "vi") == []


def test_day_of_year() -> None:
    assert day_of_year(1, 1) == 1
    assert day_of_year(2, 29) == 60
    assert day_of_year(3, 1) == 61  # counted in a leap year, so 29 February has a place
    assert day_of_year(12, 31) == 366


_GERMAN_MONTHS = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni"),
    *("Juli", "August", "September", "Oktober", "November", "Dezember"),
)
_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "iso": lambda d: d.isoformat(),
    "dots": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "slash_day_first": lambda d: f"{d.day}/{d.month}/{d.year}",
    "english": lambda d: f"{d:%B} {d.day}, {d.year}",
    "german": lambda d: f"{d.day}. {_GERMAN_MONTHS[d.month - 1]} {d.year}",
    "vietnamese": lambda d: f"ngày {d.day} tháng {d.month} năm {d.year}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
}


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.sampled_from(sorted(_FORMATS)),
    st.sampled_from(["Berlin — ", "Hà Nội, ", "", "Published "]),
)
def test_any_written_date_is_read_back(date: dt.date, form: str, prefix: str) -> None:
    written = _FORMATS[form](date)
    text = f"{prefix}{written} - the rest of the lead"
    found = find_mentions(text, "vi")
    assert [m.as_date() for m in found] == [date]
    assert len(prefix) <= found[0].start < len(prefix) + len(written)


def _every_match(folded: str, lang: str | None) -> list[tuple[int, int | None, int, int, int]]:
    """What the forms' patterns find scanning the whole text: the definition that
    ``find_mentions`` (which tries each pattern only where a mention may start) must keep."""
    month_first = dates._month_first(lang)
    found = []
    for pattern, read in dates._FORMS:
        for m in pattern.finditer(folded):
            reading = read(m.groups(), month_first)
            if reading is not None and dates._valid(reading[1], reading[2]):
                found.append((m.start(), *reading, m.end()))
    return found


_PIECES = (
    *"0123456789 .-/,:\n\tº年月日ßÄé",
    *("2024", "1999", "12", "5", "31", " ", "  ", "dec", "dec.", "december", "Dezember", "März"),
    *("juni", "jun", "mai", "sept", "on", "le", "am", "ngày", "tháng", "năm", "thang", "nam"),
    *("de", "del", "st", "th", "er", "o", "nian", "yue", "ri", "x", "_", "5december", "T10:00"),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14), st.sampled_from([None, "en", "de"]))
def test_mentions_are_what_each_pattern_finds_over_the_whole_text(
    pieces: list[str], lang: str | None
) -> None:
    text = "".join(pieces)
    folded = fold(text)
    expected = sorted(_every_match(folded, lang), key=lambda f: (f[0], f[2], f[3]))
    assert sorted(dates._mentions(folded, lang), key=lambda f: (f[0], f[2], f[3])) == expected
    assert dates.month_days(folded, lang) == [(f[2], f[3]) for f in expected]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_folding_is_anyascii_lower_cased(text: str) -> None:
    assert fold(text) == anyascii(text).lower()
    assert fold_ends(text) == list(accumulate(len(anyascii(c)) for c in text))


def test_folding_every_kind_of_character() -> None:
    # Every 61st code point, and the runs the folding remembers: the same as anyascii's.
    text = "".join(chr(c) for c in range(0x80, 0x110000, 61) if not 0xD800 <= c <= 0xDFFF)
    assert fold(text) == anyascii(text).lower()
    assert fold(text + " Größe ÄÖÜ 北京") == fold(text + " Größe ÄÖÜ 北京")
    assert fold("Tô Lâm, MÜNCHEN, Ærø, ß") == "to lam, munchen, aero, ss"


# --- the publication date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("date 2024-12-06 HÀ NỘI — The party", "en", dt.date(2024, 12, 6)),
        ("HÀ NỘI, 6/12/2024 - Chiều nay", "vi", dt.date(2024, 12, 6)),
        ("lúc 10:45:35 23/09/2024 theo", "vi", dt.date(2024, 9, 23)),
        ("WASHINGTON, December 6, 2024 - The", "en", dt.date(2024, 12, 6)),
        ("Published 6 December 2024", "en", dt.date(2024, 12, 6)),
        ("Berlin, 06.12.2024. Der Bundestag", "de", dt.date(2024, 12, 6)),
        ("am 6. Dezember 2024 in Berlin", "de", dt.date(2024, 12, 6)),
        ("Madrid, 6 de diciembre de 2024", "es", dt.date(2024, 12, 6)),
        ("Hà Nội, ngày 6 tháng 12 năm 2024", "vi", dt.date(2024, 12, 6)),
        ("12/06/2024", "en", dt.date(2024, 12, 6)),
        ("13/06/2024", "en", dt.date(2024, 6, 13)),
        ("12/06/2024", "vi", dt.date(2024, 6, 12)),
        ("2024年12月6日", "zh", dt.date(2024, 12, 6)),
        ("Updated 2024-12-07, first published December 6, 2024", "en", dt.date(2024, 12, 7)),
        ("Chiều 6.12, tại Hà Nội", "vi", None),
        ("On the afternoon of September 22 (local time)", "en", None),
        ("31/02/2024", "vi", None),
        ("x" * 600 + " 2024-12-06", "en", None),
    ],
)
def test_find_date(text: str, lang: str, expected: dt.date | None) -> None:
    assert find_date(text, lang) == expected
