"""Honest dates: a date read from an article's text is inferred, never its publication date.

``published`` comes from the record or the page's metadata only; a stamp, dateline or date in
the lead is ``inferred`` (with where it was read), vetted against the run day, the crawl date
and, for a plain text date, 1990; `--window-days`, the date spans and the timeline use it only
with `--trust-text-dates`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dedup.clean import clean_article
from dedup.clean.dating import CRAWL_WINDOW_DAYS, MIN_TEXT_YEAR, vet_corpus, vetted
from dedup.cli import app
from dedup.config import Settings
from dedup.models import Article, DateSource, Member, Report, RunInfo, Story
from dedup.pipeline import cluster_articles
from dedup.read import read_corpus
from dedup.read.formats import html_record
from dedup.read.record_dates import crawl_date, parse_date
from dedup.report import to_json
from dedup.report.markdown import to_markdown
from dedup.represent.days import event_days

RUN_DAY = dt.date(2024, 12, 10)
TITLE = "Storm floods coastal towns in northern Portugal"
LEAD = "A storm flooded coastal towns in northern Portugal on Friday, forcing evacuations."
BODY = (
    "The storm brought heavy rain to the coast and rivers burst their banks in several towns, "
    "officials said on the day.",
    "Emergency services evacuated hundreds of residents and opened shelters in schools and "
    "sports halls across the region.",
)
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}


def clean(*lines: str, title: str = TITLE, today: dt.date = RUN_DAY, **fields: Any) -> Article:
    article = Article(id="t", title=title, text="\n".join([*lines, *BODY]), **fields)
    return clean_article(article, today=today)


def dates(article: Article) -> tuple[dt.date | None, dt.date | None, str | None]:
    return article.published, article.inferred, article.inferred_from


# --- what the cleaner reads in a text ------------------------------------------------------


def test_a_birthday_in_1984_is_neither_published_nor_inferred() -> None:
    a = clean(
        "The striker, born 23 July 1984, signed for Porto on Friday after long talks with "
        "his club.",
        title="Veteran striker signs for Porto",
    )
    assert dates(a) == (None, None, None)


def test_a_1990_law_in_the_lead_is_at_most_an_inferred_text_date() -> None:
    a = clean(
        "The water law of 1 January 1990 was debated again by parliament after the storm.",
        title="Parliament debates the 1990 water law",
    )
    assert dates(a) == (None, dt.date(1990, 1, 1), "text")


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        (f"PORTO, 6 December 2024 - {LEAD}", dt.date(2024, 12, 6)),
        (f"Berlin (dpa) 06.12.2024 – {LEAD}", dt.date(2024, 12, 6)),
        (f"WASHINGTON, Dec. 6, 2024 /PRNewswire/ -- {LEAD}", dt.date(2024, 12, 6)),
        (f"Paris, le 6 décembre 2024 — {LEAD}", dt.date(2024, 12, 6)),
        (f"6 December 2024 – {LEAD}", dt.date(2024, 12, 6)),
        # A dateline says when the article was written, however long ago.
        (f"MOSCOW, 23 July 1984 — {LEAD}", dt.date(1984, 7, 23)),
    ],
)
def test_a_dateline_date_is_inferred_not_published(lead: str, expected: dt.date) -> None:
    assert dates(clean(lead)) == (None, expected, "dateline")


def test_a_dated_byline_before_the_lead_is_a_dateline() -> None:
    a = clean("von dpa", "10. Februar 2020, 14:54 Uhr", LEAD, lang="de")
    assert dates(a) == (None, dt.date(2020, 2, 10), "dateline")


@pytest.mark.parametrize(
    "lead",
    [
        "On 6 December 2024, a storm flooded coastal towns in northern Portugal.",
        "Am 6. Dezember 2024 hat ein Sturm die Küstenstädte im Norden Portugals überflutet.",
    ],
)
def test_a_date_in_the_lead_s_sentence_is_a_text_date(lead: str) -> None:
    assert dates(clean(lead)) == (None, dt.date(2024, 12, 6), "text")


def test_a_scraper_stamp_is_inferred_as_a_stamp() -> None:
    a = clean(f"date 2023-05-04 {LEAD}")
    assert dates(a) == (None, dt.date(2023, 5, 4), "stamp")


def test_a_record_date_is_published_and_the_text_adds_nothing(tmp_path: Path) -> None:
    record = {"title": TITLE, "text": f"PORTO, 6 December 2024 - {LEAD}", "date": "2024-12-05"}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    [article], _ = read_corpus([str(path)])
    assert dates(clean_article(article, today=RUN_DAY)) == (dt.date(2024, 12, 5), None, None)


@pytest.mark.parametrize("when", ["20 December 2024", "6 December 2099"])
def test_a_future_date_in_the_text_is_not_inferred(when: str) -> None:
    assert dates(clean(f"PORTO, {when} - {LEAD}")) == (None, None, None)
    assert dates(clean(f"On {when}, a storm flooded coastal towns.")) == (None, None, None)
    assert dates(clean(f"date {when} {LEAD}")) == (None, None, None)


def test_the_run_day_itself_is_not_the_future() -> None:
    a = clean(f"PORTO, 6 December 2024 - {LEAD}", today=dt.date(2024, 12, 6))
    assert a.inferred == dt.date(2024, 12, 6)


@pytest.mark.parametrize(
    ("downloaded", "kept"),
    [
        ("2024-12-07 10:00:00", True),
        ("2024-12-05", True),  # a day before: the page's zone may be ahead of the crawler's
        ("2024-12-04", False),  # two days before the date read: it cannot be the day
        ("2026-01-01", False),  # more than a year after: a date the text recalls
    ],
)
def test_a_crawl_date_bounds_the_inferred_date(downloaded: str, kept: bool) -> None:
    a = clean(
        f"PORTO, 6 December 2024 - {LEAD}",
        meta={"Date_Download": downloaded},
        today=dt.date(2026, 6, 1),
    )
    assert a.inferred == (dt.date(2024, 12, 6) if kept else None)


def test_the_vetting_rule() -> None:
    today = dt.date(2024, 12, 10)
    assert vetted(today, "text", today=today)
    assert not vetted(today + dt.timedelta(days=1), "dateline", today=today)
    assert not vetted(dt.date(MIN_TEXT_YEAR - 1, 12, 31), "text", today=today)
    assert vetted(dt.date(MIN_TEXT_YEAR - 1, 12, 31), "dateline", today=today)
    assert vetted(dt.date(MIN_TEXT_YEAR - 1, 12, 31), "stamp", today=today)
    crawled = dt.date(2024, 6, 1)
    edge = crawled - dt.timedelta(days=CRAWL_WINDOW_DAYS)
    assert vetted(edge, "text", today=today, crawled=crawled)
    assert not vetted(edge - dt.timedelta(days=1), "text", today=today, crawled=crawled)


def test_the_event_day_still_falls_back_to_the_date_read_from_the_text() -> None:
    # The similarity's day-of-year signal: unchanged by where the date is now kept.
    a = clean("6 December 2024, 10:32", LEAD)
    assert a.published is None and a.inferred == dt.date(2024, 12, 6)
    days, stated = event_days([a])
    assert (int(days[0]), bool(stated[0])) == (341, False)


# --- record and page dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6. Dezember 2024", dt.date(2024, 12, 6)),
        ("Freitag, 6. Dezember 2024, 23:30 Uhr", dt.date(2024, 12, 6)),
        ("6 de diciembre de 2024", dt.date(2024, 12, 6)),
        ("6 грудня 2024", dt.date(2024, 12, 6)),
        ("2024年12月6日", dt.date(2024, 12, 6)),
        ("ngày 6 tháng 12 năm 2024", dt.date(2024, 12, 6)),
        ("2024/12/06 10:00", dt.date(2024, 12, 6)),
        ("2024-1-5", dt.date(2024, 1, 5)),
        # A time zone never moves the day written.
        ("6. Dezember 2024 23:30 -05:00", dt.date(2024, 12, 6)),
        ("Dec. 6, 2024 11:45 PM EST", dt.date(2024, 12, 6)),
        ("6 December 2024 00:30 +14:00", dt.date(2024, 12, 6)),
        # Day and month as numbers: read only when one reading is possible.
        ("13/12/2024", dt.date(2024, 12, 13)),
        ("12/13/2024", dt.date(2024, 12, 13)),
        ("13.12.2024 10:00", dt.date(2024, 12, 13)),
        ("06/06/2024", dt.date(2024, 6, 6)),
        ("06.12.2024", None),
        ("Fri 06-12-2024", None),
        ("13/12/24", None),
        ("31/02/2024", None),
        # No day, no year, a relative day or another calendar: no date.
        ("December 2024", None),
        ("3 days ago", None),
        ("Posted by admin in 2024", None),
        ("6 ธันวาคม 2567", None),
    ],
)
def test_record_dates_in_other_languages_and_forms(raw: str, expected: dt.date | None) -> None:
    assert parse_date(raw) == expected


def test_crawl_date_is_read_from_the_extra_fields() -> None:
    assert crawl_date({"date_download": "2023-02-07 10:00:00"}) == dt.date(2023, 2, 7)
    assert crawl_date({"Crawled_At": "not a date", "fetched": "2023-02-08"}) == dt.date(2023, 2, 8)
    assert crawl_date({"published": "2023-02-07"}) is None


PAGE = """<html><head><title>Storm floods towns</title>{meta}</head><body><article>
<h1>Storm floods towns</h1><p>PORTO, 6 December 2024 - {lead}</p>
<p>{body0}</p><p>{body1}</p></article></body></html>"""


def test_a_page_s_metadata_date_is_published_its_dateline_inferred() -> None:
    meta = '<meta property="article:published_time" content="2024-12-05T23:30:00-05:00">'
    with_meta = html_record(PAGE.format(meta=meta, lead=LEAD, body0=BODY[0], body1=BODY[1]))
    without = html_record(PAGE.format(meta="", lead=LEAD, body0=BODY[0], body1=BODY[1]))
    assert isinstance(with_meta, dict) and isinstance(without, dict)
    assert with_meta["published"] == "2024-12-05"
    assert without["published"] is None
    article = Article(id="p", title=str(without["title"]), text=str(without["text"]))
    assert dates(clean_article(article, today=RUN_DAY)) == (None, dt.date(2024, 12, 6), "dateline")


# --- what the run does with them -----------------------------------------------------------

YAGI = "On 7 September Typhoon Yagi hit Hanoi, felling trees across the capital."
CHESS = "Carlsen won the final in Oslo after a long endgame against his challenger."


def records(*heads: str) -> list[dict[str, str]]:
    """One typhoon story told twice (both leads name 7 September), each with a line before the
    lead (a byline date or an old date), and an unrelated article."""
    first, second = heads
    return [
        {"id": "a", "title": "Typhoon Yagi hits Hanoi", "text": f"{first}\n\n{YAGI}"},
        {"id": "b", "title": "Typhoon Yagi hits Hanoi", "text": f"{second}\n\n{YAGI}"},
        {"id": "c", "title": "Chess final in Oslo", "text": CHESS},
    ]


def run(rows: list[dict[str, str]], *args: str) -> dict[str, Any]:
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    result = CliRunner().invoke(
        app,
        ["cluster", "-", "--backend", "lexical", "--json", "--neighbours", "exact", *args],
        input=stdin,
        env=ENV,
    )
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def memberships(doc: dict[str, Any]) -> list[list[str]]:
    return sorted(sorted(m["id"] for m in s["members"]) for s in doc["stories"])


def test_old_dates_in_texts_do_not_split_a_story_under_a_window() -> None:
    # Before, the text's dates were published ones: 1984 and 1990, the story split in two.
    rows = [
        {
            "id": "a",
            "title": "Typhoon Yagi hits Hanoi",
            "text": f"{YAGI} The coach, born 23 July 1984, cancelled training.",
        },
        {
            "id": "b",
            "title": "Typhoon Yagi hits Hanoi",
            "text": f"{YAGI} A law of 1 January 1990 sets the alert levels.",
        },
        {"id": "c", "title": "Chess final in Oslo", "text": CHESS},
    ]
    for trust in ([], ["--trust-text-dates"]):
        doc = run(rows, "--window-days", "30", *trust)
        assert memberships(doc) == [["a", "b"], ["c"]]
        members = {m["id"]: m for s in doc["stories"] for m in s["members"]}
        assert all(m["published"] is None for m in members.values())
        assert members["a"]["inferred_date"] is None  # 1984 in a sentence: history
        assert (members["b"]["inferred_date"], members["b"]["inferred_from"]) == (
            "1990-01-01",
            "text",
        )
    assert run(rows, "--window-days", "30")["stories"][0]["first_date"] is None


def test_trust_text_dates_makes_the_window_and_the_spans_use_inferred_dates() -> None:
    rows = records("7 September 2024, 10:32", "17 October 2024, 09:10")
    plain = run(rows, "--window-days", "30")
    assert memberships(plain) == [["a", "b"], ["c"]]
    story = plain["stories"][0]
    assert (story["first_date"], story["last_date"]) == (None, None)
    assert plain["run"]["trust_text_dates"] is False
    trusted = run(rows, "--window-days", "30", "--trust-text-dates")
    assert memberships(trusted) == [["a"], ["b"], ["c"]]
    assert trusted["run"]["trust_text_dates"] is True
    spans = run(rows, "--trust-text-dates")["stories"][0]
    assert (spans["first_date"], spans["last_date"]) == ("2024-09-07", "2024-10-17")


def test_evaluate_clusters_takes_trust_text_dates(tmp_path: Path) -> None:
    rows = records("7 September 2024, 10:32", "17 October 2024, 09:10")
    for row, story in zip(rows, ("yagi", "yagi", "chess"), strict=True):
        row["story"] = story
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    found = {}
    for trust in ([], ["--trust-text-dates"]):
        result = CliRunner().invoke(
            app,
            ["evaluate", "clusters", str(corpus), "-b", "lexical", "--window-days", "30",
             "--neighbours", "exact", "--json", *trust],
            env=ENV,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        found[bool(trust)] = json.loads(result.stdout)["stories"]
    assert found == {False: 2, True: 3}


def test_the_reports_carry_published_and_inferred_dates_apart(tmp_path: Path) -> None:
    rows = records("7 September 2024, 10:32", "17 October 2024, 09:10")
    rows[0]["published"] = "2024-09-08"
    rows[1]["text"] += " Schools stayed closed."  # not a copy, which stories.jsonl drops
    out = tmp_path / "out"
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    result = CliRunner().invoke(
        app, ["cluster", "-", "--backend", "lexical", "--out", str(out)], input=stdin, env=ENV
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "report.json").read_text("utf-8"))
    members = {m["id"]: m for s in doc["stories"] for m in s["members"]}
    assert {
        k: (m["published"], m["inferred_date"], m["inferred_from"]) for k, m in members.items()
    } == {
        "a": ("2024-09-08", None, None),
        "b": (None, "2024-10-17", "dateline"),
        "c": (None, None, None),
    }
    story = next(s for s in doc["stories"] if s["size"] == 2)
    assert (story["first_date"], story["last_date"]) == ("2024-09-08", "2024-09-08")
    lines = (out / "stories.jsonl").read_text("utf-8").splitlines()
    articles = {a["id"]: a for line in lines for a in json.loads(line)["articles"]}
    assert (articles["b"]["published"], articles["b"]["inferred_date"]) == (None, "2024-10-17")
    assert articles["b"]["inferred_from"] == "dateline"
    markdown = (out / "report.md").read_text("utf-8")
    assert "| Title | Source | Lang | Date | Text date | Similarity |" in markdown
    assert "| — | 2024-10-17 (dateline) |" in markdown
    assert "| 2024-09-08 |  |" in markdown


def text_dated_report(trust: bool) -> Report:
    """Two articles dated by their texts only (a dateline, a lead), as a run with or without
    --trust-text-dates reports them (the HTML report's browser test draws it too)."""
    a = Article(
        "a", "Typhoon hits Hanoi", "x", lang="en", inferred=dt.date(2024, 9, 7),
        inferred_from="dateline",
    )  # fmt: skip
    b = Article("b", "Typhoon hits Hanoi again", "y", lang="en", inferred=dt.date(2024, 9, 8))
    story = Story("S1", (Member(a, 1.0), Member(b, 0.9)), 0.9, 0.9, text_dates=trust)
    run_info = RunInfo("0.1.0", "lexical", None, 0.5, 0.2, ("x",), trust_text_dates=trust)
    return Report((story,), (), (), run_info)


def test_a_story_s_dates_are_published_ones_unless_text_dates_are_trusted() -> None:
    plain = text_dated_report(False).stories[0]
    assert (plain.first_date, plain.last_date) == (None, None)
    trusted = text_dated_report(True).stories[0]
    assert (trusted.first_date, trusted.last_date) == (dt.date(2024, 9, 7), dt.date(2024, 9, 8))
    assert "Dates: unknown" in to_markdown(text_dated_report(False))
    assert "Dates: 2024-09-07 – 2024-09-08" in to_markdown(text_dated_report(True))
    doc = json.loads(to_json(text_dated_report(False)))
    assert doc["stories"][0]["members"][0]["inferred_date"] == "2024-09-07"


def test_cluster_articles_without_trust_leaves_spans_empty() -> None:
    articles = [
        Article(id=k, title="Typhoon Yagi hits Hanoi", text=f"{head}\n\n{YAGI}")
        for k, head in (("a", "7 September 2024, 10:32"), ("b", "8 September 2024, 09:10"))
    ]
    settings = Settings(backend="lexical", cache=None)
    report = cluster_articles(articles, settings)
    assert [s.first_date for s in report.stories] == [None]
    trusted = cluster_articles(
        articles, Settings(backend="lexical", cache=None, trust_text_dates=True)
    )
    assert [(s.first_date, s.last_date) for s in trusted.stories] == [
        (dt.date(2024, 9, 7), dt.date(2024, 9, 8))
    ]


def _dated(k: int, inferred: dt.date, source: DateSource) -> Article:
    return Article(id=f"x{k}", title="t", text="x", inferred=inferred, inferred_from=source)


def test_a_text_date_far_from_the_corpus_s_firmer_dates_is_dropped() -> None:
    datelines = [_dated(k, dt.date(2020, 2, k + 1), "dateline") for k in range(3)]
    recalled = _dated(8, dt.date(2004, 10, 16), "text")
    recent = _dated(9, dt.date(2019, 12, 31), "text")
    old_dateline = _dated(7, dt.date(1984, 7, 23), "dateline")
    vetted_ = vet_corpus([*datelines, recalled, recent, old_dateline])
    assert [a.inferred for a in vetted_] == [
        *(a.inferred for a in datelines),
        None,  # 16 years from any firmer date of the corpus: a date the article recalls
        dt.date(2019, 12, 31),
        dt.date(1984, 7, 23),  # a dateline stays, however far
    ]
    assert vetted_[3].inferred_from is None
    # A stray older dateline vouches for dates near its own only.
    near_it = _dated(6, dt.date(2012, 6, 1), "text")
    stray = _dated(5, dt.date(2012, 5, 1), "dateline")
    kept = vet_corpus([*datelines, near_it, recalled, stray])
    assert [a.inferred for a in kept[3:5]] == [dt.date(2012, 6, 1), None]
    # Published dates are firmer evidence too; fewer than three say nothing.
    published = [
        Article(id=f"p{k}", title="t", text="x", published=dt.date(2020, 1, 1)) for k in range(3)
    ]
    assert vet_corpus([*published, recalled])[-1].inferred is None
    assert vet_corpus([*datelines[:2], recalled])[-1].inferred == dt.date(2004, 10, 16)
