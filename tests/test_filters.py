"""Views of a report (--min-size, --multi-only, --limit), the deduplicated corpus
(--representatives), the table's width and its outlet column."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.errors import InputError
from dedup.models import Article, Evidence, Member, Related, Report, RunInfo, Skipped, Story
from dedup.report import render_table, story_records, to_dict, to_json, to_markdown
from dedup.report.html import page_data, to_html
from dedup.report.outputs import write_outputs
from dedup.report.representatives import representative_records, to_representatives
from dedup.report.text import outlet, selection_note
from dedup.report.view import select

ARTICLES = str(Path(__file__).parent.parent / "samples" / "articles")
runner = CliRunner()


def invoke(*args: str, columns: int = 100) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns), "HF_HUB_OFFLINE": "1"})


def _article(id: str, title: str, source: str = "", **fields: Any) -> Article:
    return Article(
        id=id,
        title=title,
        text=f"Body of {id}.",
        source=source,
        lang=fields.pop("lang", "en"),
        origin=fields.pop("origin", f"feed/{id}.txt"),
        **fields,
    )


def _story(sid: str, *articles: Article) -> Story:
    members = tuple(Member(a, 1.0 - k / 10) for k, a in enumerate(articles))
    cohesion = 0.8 if len(articles) > 1 else None
    return Story(sid, members, cohesion, cohesion)


def _evidence(story_a: str, story_b: str, a: str, b: str) -> Evidence:
    return Evidence(story_a, story_b, a, b, 0.7, 0.7, 0.7, True, {}, (), None, None, 1.0)


def make_report() -> Report:
    """Four stories in report order, sizes 3, 2, 1, 1, related S1~S2, S1~S3 and S2~S4."""
    day = dt.date(2024, 12, 6)
    stories = (
        _story(
            "S1",
            _article("a1", "Typhoon Yagi reaches Hanoi", "Example News", published=day),
            _article("a2", "Bão Yagi đổ bộ Hà Nội", "vnexpress.net", lang="vi"),
            _article("a3", "Yagi hits the capital", "mirror.example"),
        ),
        _story(
            "S2",
            _article("b1", "Chip plant opens in Bac Ninh", "news.example"),
            _article("b2", "Nhà máy chip khai trương", "tuoitre.vn", lang="vi"),
        ),
        _story("S3", _article("c1", "Flooding closes schools", "news.example")),
        _story("S4", _article("d1", "Exports rise in November", "trade.example")),
    )
    run = RunInfo("0.1.0", "lexical", None, 0.5, 0.25, ("feed",))
    return Report(
        stories=stories,
        related=(Related("S1", "S2", 0.3), Related("S1", "S3", 0.4), Related("S2", "S4", 0.2)),
        skipped=(Skipped("feed/bad.txt", "empty text"),),
        run=run,
        explanations=(_evidence("S1", "S1", "a1", "a2"), _evidence("S2", "S4", "b1", "d1")),
    )


# ---------------------------------------------------------------------------------------------
# The view


def test_min_size_keeps_the_larger_stories_and_what_lies_between_them() -> None:
    view = select(make_report(), min_size=2)
    assert [s.id for s in view.stories] == ["S1", "S2"]
    assert view.related == (Related("S1", "S2", 0.3),)
    assert [(e.story_a, e.story_b) for e in view.explanations] == [("S1", "S1")]
    assert view.skipped == make_report().skipped  # skipped inputs are the run's, all kept
    assert view.selection is not None
    assert (view.selection.smaller, view.selection.past_limit) == (2, 0)
    assert view.whole == make_report()


def test_limit_keeps_the_first_stories_in_report_order_after_min_size() -> None:
    assert [s.id for s in select(make_report(), limit=3).stories] == ["S1", "S2", "S3"]
    both = select(make_report(), min_size=2, limit=1)
    assert [s.id for s in both.stories] == ["S1"]
    assert both.selection is not None
    assert (both.selection.smaller, both.selection.past_limit) == (2, 1)
    assert both.related == ()


def test_a_rule_that_leaves_nothing_out_is_no_view() -> None:
    report = make_report()
    assert select(report) is report
    assert select(report, min_size=1, limit=4) is report
    # Selecting from a view starts again from the whole report.
    assert select(select(report, min_size=3), limit=10) is report
    assert [s.id for s in select(select(report, min_size=3), min_size=2).stories] == ["S1", "S2"]


@pytest.mark.parametrize(
    ("min_size", "limit", "setting"), [(0, None, "min_size"), (1, 0, "limit"), (-2, 5, "min_size")]
)
def test_a_bad_rule_is_an_input_error_naming_its_setting(
    min_size: int, limit: int | None, setting: str
) -> None:
    with pytest.raises(InputError) as caught:
        select(make_report(), min_size=min_size, limit=limit)
    assert caught.value.setting == setting


def test_the_note_says_what_was_left_out_in_library_terms_or_by_flag() -> None:
    assert selection_note(make_report()) == ""
    assert selection_note(select(make_report(), min_size=2)) == (
        "Showing 2 of 4 stories; left out: 2 of fewer than 2 articles."
    )
    assert selection_note(select(make_report(), limit=1)) == (
        "Showing 1 of 4 stories; left out: 3 past the first 1."
    )
    view = select(make_report(), min_size=3, limit=5)
    assert selection_note(view) == "Showing 1 of 4 stories; left out: 3 of fewer than 3 articles."
    flags = {"min_size": "--min-size 2", "limit": "--limit 1"}
    assert selection_note(select(make_report(), min_size=2, limit=1), flags) == (
        "Showing 1 of 4 stories; left out: 2 by --min-size 2, 1 by --limit 1."
    )


# ---------------------------------------------------------------------------------------------
# Each output of a view


def _table_story_ids(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if re.match(r"S\d+ ", line)]


FILTERED_TABLE = """\
7 articles · 4 stories (2 multi-article, 2 cross-language) · 1 skipped
backend lexical, threshold 0.50
Showing 1 of 4 stories; left out: 2 of fewer than 2 articles, 1 past the first 1.

id  n  languages    ⇄  headline                      sources          dates       cohesion
──────────────────────────────────────────────────────────────────────────────────────────
S1  3  en 2 · vi 1  ⇄  Typhoon Yagi reaches Hanoi    Example News +2  2024-12-06      0.80
       en                Typhoon Yagi reaches Hanoi  Example News     2024-12-06      1.00
       vi                Bão Yagi đổ bộ Hà Nội       vnexpress.net                    0.90
       en                Yagi hits the capital       mirror.example                   0.80

Evidence (--explain):
  S1  a1 ~ a2  0.70  same language
    shared: nothing
    days: not both known, no discount
    signals: nothing = 0.70

Skipped 1 input:
  feed/bad.txt: empty text
"""


def test_the_table_of_a_view_is_exact_and_counts_the_whole_run() -> None:
    assert render_table(select(make_report(), min_size=2, limit=1), width=100) == FILTERED_TABLE


def test_the_table_without_a_rule_is_unchanged() -> None:
    text = render_table(make_report(), width=100)
    assert "Showing" not in text
    assert _table_story_ids(text) == ["S1", "S2", "S3", "S4"]


def test_the_table_of_a_huge_run_stops_at_its_cap_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A million articles' table would take many minutes to lay out: it shows its first
    stories up to TABLE_MAX_ROWS rows (a story and its articles' lines), one at least."""
    from dedup.report import table

    monkeypatch.setattr(table, "TABLE_MAX_ROWS", 7)  # S1: 1 + 3 rows, S2: 1 + 2
    text = render_table(make_report(), width=100)
    assert _table_story_ids(text) == ["S1", "S2"]
    assert "... and 2 more stories (see --json or --out)" in text
    monkeypatch.setattr(table, "TABLE_MAX_ROWS", 1)
    text = render_table(make_report(), width=100)
    assert _table_story_ids(text) == ["S1"] and "... and 3 more stories" in text


def test_markdown_of_a_view_says_what_it_left_out() -> None:
    text = to_markdown(select(make_report(), min_size=2))
    lines = text.splitlines()
    assert lines[:6] == [
        "# dedup report",
        "",
        "7 articles · 4 stories (2 multi-article, 2 cross-language) · 1 skipped"
        " · backend lexical, threshold 0.50",
        "",
        "Showing 2 of 4 stories; left out: 2 of fewer than 2 articles.",
        "",
    ]
    assert [line for line in lines if line.startswith("## ")] == [
        "## S1 · Typhoon Yagi reaches Hanoi",
        "## S2 · Chip plant opens in Bac Ninh",
        "## Evidence",  # of the links between the stories shown only
        "## Skipped inputs (1)",
    ]
    assert "Related: S2 (0.30)" in lines and "Related: S1 (0.30)" in lines
    limited = to_markdown(select(make_report(), limit=3)).splitlines()
    assert "Showing 3 of 4 stories; left out: 1 past the first 3." in limited
    assert "| S3 | Flooding closes schools | news.example | en | — | S1 (0.40) |" in limited
    assert not any(line.startswith("| S4 ") for line in limited)
    assert "Showing" not in to_markdown(make_report())


def test_stories_jsonl_of_a_view_holds_its_stories_only() -> None:
    assert [r["story_id"] for r in story_records(select(make_report(), min_size=2))] == [
        "S1",
        "S2",
    ]
    assert [r["story_id"] for r in story_records(select(make_report(), limit=1))] == ["S1"]


def test_the_json_and_html_of_a_view_keep_the_run_summary_and_say_what_was_left_out() -> None:
    whole = to_dict(make_report())
    doc = to_dict(select(make_report(), min_size=2, limit=1))
    assert doc["summary"] == whole["summary"]  # the run's counts, not the view's
    assert [s["id"] for s in doc["stories"]] == ["S1"]
    assert doc["related"] == []
    assert doc["selection"] == {
        "min_size": 2,
        "limit": 1,
        "shown": 1,
        "left_out": {"smaller": 2, "past_limit": 1},
        "note": "Showing 1 of 4 stories; left out: 2 of fewer than 2 articles, 1 past the first 1.",
    }
    assert "selection" not in whole
    page = page_data(select(make_report(), limit=2))
    assert [s["id"] for s in page["stories"]] == ["S1", "S2"]
    assert page["selection"]["note"] == "Showing 2 of 4 stories; left out: 2 past the first 2."
    assert '"note":"Showing 2 of 4 stories' in to_html(select(make_report(), limit=2))


def test_write_outputs_of_a_view_keeps_every_story_in_report_json(tmp_path: Path) -> None:
    report = make_report()
    write_outputs(select(report, min_size=2), tmp_path)
    assert (tmp_path / "report.json").read_text("utf-8") == to_json(report)
    lines = (tmp_path / "stories.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["story_id"] for line in lines] == ["S1", "S2"]
    assert "left out: 2 of fewer than 2 articles" in (tmp_path / "report.md").read_text("utf-8")


# ---------------------------------------------------------------------------------------------
# The command line


def test_cli_filters_the_table_and_says_so() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--multi-only")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[2] == "Showing 2 of 3 stories; left out: 1 of fewer than 2 articles."
    assert _table_story_ids(result.stdout) == ["S1", "S2"]
    assert "Related:" not in lines  # S2 ~ S3: S3 is not shown
    limited = invoke("cluster", ARTICLES, "--backend", "lexical", "--limit", "1")
    assert limited.stdout.splitlines()[2] == (
        "Showing 1 of 3 stories; left out: 2 past the first 1."
    )
    assert _table_story_ids(limited.stdout) == ["S1"]
    same = invoke("cluster", ARTICLES, "--backend", "lexical", "--min-size", "2")
    assert same.stdout == result.stdout  # --multi-only is --min-size 2


def test_cli_filters_every_file_but_report_json(tmp_path: Path) -> None:
    full = invoke("cluster", ARTICLES, "--backend", "lexical", "--out", str(tmp_path / "all"))
    assert full.exit_code == 0, full.output
    out = tmp_path / "some"
    args = [
        "--min-size",
        "2",
        "--limit",
        "1",
        "--out",
        str(out),
        "--html",
        str(tmp_path / "p.html"),
    ]
    result = invoke("cluster", ARTICLES, "--backend", "lexical", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == (
        "Showing 1 of 3 stories; left out: 1 by --min-size 2, 1 by --limit 1."
        " report.json keeps every story."
    )

    def doc(path: Path) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
        loaded["run"].pop("timings")
        return loaded

    assert doc(out / "report.json") == doc(tmp_path / "all" / "report.json")
    stories = (out / "stories.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["story_id"] for line in stories] == ["S1"]
    markdown = (out / "report.md").read_text("utf-8")
    assert "Showing 1 of 3 stories; left out: 1 of fewer than 2 articles, 1 past the first 1." in (
        markdown
    )
    assert "## S2 " not in markdown
    for page in (out / "report.html", tmp_path / "p.html"):
        data = page.read_text("utf-8")
        assert '"note":"Showing 1 of 3 stories; left out: 1 of fewer than 2 articles' in data
        assert '"id":"S2"' not in data


def test_cli_names_the_flags_that_left_stories_out_of_a_page(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    result = invoke(
        "cluster", ARTICLES, "--backend", "lexical", "--multi-only", "--html", str(page)
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Wrote {page}\nShowing 2 of 3 stories; left out: 1 by --multi-only.\n"
    )  # no report.json was written to keep the others
    # A rule that leaves nothing out changes nothing and says nothing.
    again = invoke("cluster", ARTICLES, "--backend", "lexical", "--min-size", "1", "--limit", "3")
    plain = invoke("cluster", ARTICLES, "--backend", "lexical")
    assert (again.stdout, again.stderr) == (plain.stdout, "")


def test_cli_json_follows_the_filters_and_says_what_it_left_out(tmp_path: Path) -> None:
    """--json prints the view the table shows, its selection saying what it left out;
    report.json of --out stays whole (issue 23, finding 17)."""
    out = tmp_path / "out"
    result = invoke(
        "cluster", ARTICLES, "--backend", "lexical", "--json", "--multi-only", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert [story["size"] for story in printed["stories"]] == [2, 2]
    assert printed["summary"]["stories"] == 3  # the summary counts the whole run
    assert printed["selection"] == {
        "min_size": 2,
        "limit": None,
        "shown": 2,
        "left_out": {"smaller": 1, "past_limit": 0},
        "note": "Showing 2 of 3 stories; left out: 1 of fewer than 2 articles.",
    }
    assert len(json.loads((out / "report.json").read_text("utf-8"))["stories"]) == 3
    limited = invoke("cluster", ARTICLES, "--backend", "lexical", "--json", "--limit", "1")
    assert [s["id"] for s in json.loads(limited.stdout)["stories"]] == ["S1"]
    assert limited.stderr == ""  # the JSON says it; no warning that the filter did nothing
    # A rule that leaves nothing out changes nothing.
    plain = invoke("cluster", ARTICLES, "--backend", "lexical", "--json")
    same = invoke("cluster", ARTICLES, "--backend", "lexical", "--json", "--limit", "3")
    assert "selection" not in json.loads(plain.stdout)
    assert _without_timings(same.stdout) == _without_timings(plain.stdout)


def _without_timings(text: str) -> dict[str, object]:
    doc = json.loads(text)
    doc["run"]["timings"] = {}
    return doc


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-size", "0"], "Error: min size must be at least 1, got 0 (--min-size)\n"),
        (["--limit", "0"], "Error: limit must be at least 1, got 0 (--limit)\n"),
        (["--limit", "-3"], "Error: limit must be at least 1, got -3 (--limit)\n"),
        (
            ["--multi-only", "--min-size", "0"],
            "Error: min size must be at least 1, got 0 (--min-size)\n",
        ),
    ],
)
def test_cli_bad_filters_are_one_line_usage_errors(args: list[str], message: str) -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical", *args)
    assert (result.exit_code, result.stderr) == (2, message)


# ---------------------------------------------------------------------------------------------
# The deduplicated corpus


def test_representatives_are_each_storys_most_central_article() -> None:
    records = list(representative_records(select(make_report(), min_size=2)))  # every story
    assert [(r["story_id"], r["id"], r["stands_for"]) for r in records] == [
        ("S1", "a1", ["a2", "a3"]),
        ("S2", "b1", ["b2"]),
        ("S3", "c1", []),
        ("S4", "d1", []),
    ]
    assert records[0] == {
        "story_id": "S1",
        "story_size": 3,
        "id": "a1",
        "title": "Typhoon Yagi reaches Hanoi",
        "source": "Example News",
        "lang": "en",
        "published": "2024-12-06",
        "url": None,
        "origin": "feed/a1.txt",
        "text": "Body of a1.",
        "stands_for": ["a2", "a3"],
    }
    text = to_representatives(make_report())
    assert text.startswith('{"story_id":"S1","story_size":3,"id":"a1",')
    assert text.count("\n") == 4 and text.endswith("\n")


def _corpus(tmp_path: Path) -> Path:
    """Two outlets' copies of one story (a named source, and a URL), and an article from a
    record with neither, whose source the reader makes the file's name."""
    text = "Workers at the Hai Phong port went on strike on Monday over unpaid wages and overtime."
    records = [
        {"id": "p1", "title": "Port workers strike", "text": text, "source": "Port Daily"},
        {
            "id": "p2",
            "title": "Port workers strike",
            "text": text,
            "url": "https://www.ships.example/x",
        },
        {
            "id": "q1",
            "title": "Rice harvest",
            "text": "Farmers in the Mekong delta began the rice harvest early after heavy rains.",
        },
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def test_cli_writes_the_deduplicated_corpus(tmp_path: Path) -> None:
    feed = _corpus(tmp_path)
    target = tmp_path / "deduped.jsonl"
    args = ["--representatives", str(target), "--multi-only"]
    result = invoke("cluster", str(feed), "--backend", "lexical", *args)
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}\n" in result.stderr
    records = [json.loads(line) for line in target.read_text("utf-8").splitlines()]
    assert [(r["story_id"], r["story_size"], r["id"], r["stands_for"]) for r in records] == [
        ("S1", 2, "p1", ["p2"]),
        ("S2", 1, "q1", []),  # the filters shape the report's views, not the corpus
    ]
    assert [r["source"] for r in records] == ["Port Daily", None]  # no file name as an outlet
    assert records[0]["text"].startswith("Workers at the Hai Phong port")
    # Read back, it is a corpus of one article per story.
    again = invoke("cluster", str(target), "--backend", "lexical", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(m["id"] for s in json.loads(again.stdout)["stories"] for m in s["members"]) == [
        "p1",
        "q1",
    ]


def test_representatives_replace_their_file_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _corpus(tmp_path)
    target = tmp_path / "deduped.jsonl"
    target.write_text('{"story_id":"S9"}\n', "utf-8")  # an earlier run's corpus

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dedup.report.outputs.os.replace", broken_replace)
    result = invoke("cluster", str(feed), "--backend", "lexical", "--representatives", str(target))
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1] == f"Error: cannot write {target}: No space left on device"
    )
    assert target.read_text("utf-8") == '{"story_id":"S9"}\n'
    assert sorted(os.listdir(tmp_path)) == ["deduped.jsonl", "feed.jsonl"]  # no temporary file
    monkeypatch.undo()
    result = invoke("cluster", str(feed), "--backend", "lexical", "--representatives", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text("utf-8").startswith('{"story_id":"S1","story_size":2,"id":"p1",')


def test_representatives_never_overwrite_an_input(tmp_path: Path) -> None:
    feed = _corpus(tmp_path)
    before = feed.read_bytes()
    result = invoke(
        "cluster", str(tmp_path), "--backend", "lexical", "--representatives", str(feed)
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --representatives {feed} is an input article ({tmp_path}): name another file"
        " for the report\n"
    )
    assert feed.read_bytes() == before
    # An earlier corpus of dedup's under the input directory is replaced, and never read.
    earlier = tmp_path / "deduped.jsonl"
    earlier.write_text('{"story_id":"S1","id":"old","text":"An old run."}\n', "utf-8")
    result = invoke(
        "cluster",
        str(tmp_path),
        "--backend",
        "lexical",
        "--json",
        "--representatives",
        str(earlier),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["articles"] == 3
    assert '"id":"old"' not in earlier.read_text("utf-8")


def test_two_outputs_on_one_file_are_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--out", str(out), "--representatives", str(out / "stories.jsonl")]
    result = invoke("cluster", ARTICLES, "--backend", "lexical", *args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Invalid value for --representatives: {out / 'stories.jsonl'} is written by"
        " --out too\n"
    )
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# The table's width and its outlets


def test_outlet_is_the_source_unless_it_is_only_the_file_name() -> None:
    def article(source: str, origin: str) -> Article:
        return Article("x", "t", "b", source=source, origin=origin)

    assert outlet(article("Example News", "feed.jsonl:3")) == "Example News"
    assert outlet(article("news.example", "feed.jsonl:3")) == "news.example"
    assert outlet(article("feed.jsonl", "data/feed.jsonl:3")) == ""
    assert outlet(article("feed.json", "data/feed.json:#0")) == ""
    assert outlet(article("a.txt", "corpus/sub/a.txt")) == ""
    assert outlet(article("notes:12", "corpus/notes:12")) == ""  # a file name with a colon
    assert outlet(article("a.txt", "")) == "a.txt"  # built by a caller: no file to compare
    assert outlet(article("", "feed.jsonl:3")) == ""


def test_the_table_shows_outlets_and_a_dash_for_an_unknown_one(tmp_path: Path) -> None:
    result = invoke("cluster", str(_corpus(tmp_path)), "--backend", "lexical")
    assert result.exit_code == 0, result.output
    rows = [line.split("  ") for line in result.stdout.splitlines()[5:]]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows if row != [""]]
    assert cells == [
        ["S1", "2", "en 2", "Port workers strike", "Port Daily +1", "1.00"],
        ["en", "Port workers strike", "Port Daily", "1.00"],
        ["en", "Port workers strike", "ships.example", "1.00"],
        ["S2", "1", "en 1", "Rice harvest", "—"],
    ]
    # No outlet known anywhere (the samples): no column of dashes.
    samples = invoke("cluster", ARTICLES, "--backend", "lexical")
    header = samples.stdout.splitlines()[3].split()
    assert header == ["id", "n", "languages", "⇄", "headline", "dates", "cohesion"]


def test_markdown_shows_outlets_and_a_dash_for_an_unknown_one() -> None:
    report = make_report()
    unknown = _article("e1", "Market closes higher", "feed.jsonl", origin="in/feed.jsonl:4")
    lines = to_markdown(
        Report((*report.stories, _story("S5", unknown)), (), (), report.run)
    ).splitlines()
    assert "| S5 | Market closes higher | — | en | — |  |" in lines
    assert "Languages: en 2 · vi 1 · Sources: Example News, mirror.example, vnexpress.net" in (
        "\n".join(lines)
    )


LONG = "Typhoon Yagi reaches Hanoi after crossing the Gulf of Tonkin with winds of 150 km/h"


def _wide_report() -> Report:
    report = make_report()
    story = _story(
        "S1", _article("z1", LONG, "Example News"), _article("z2", LONG, "vnexpress.net")
    )
    return Report((story, *report.stories[2:]), (), (), report.run)


def test_a_narrow_table_drops_columns_and_fits_the_width() -> None:
    for width in (30, 40, 60, 80):
        assert all(
            len(line) <= width for line in render_table(_wide_report(), width=width).splitlines()
        )
    lines = render_table(_wide_report(), width=40).splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("id "))
    assert lines[at : at + 7] == [
        "id  n  ⇄  headline",
        "─" * 40,
        "S1  2     Typhoon Yagi reaches Hanoi af…",
        "            Typhoon Yagi reaches Hanoi …",
        "            Typhoon Yagi reaches Hanoi …",
        "",
        "S3  1     Flooding closes schools",
    ]


def test_a_wide_table_gives_the_headline_its_full_length_and_no_more() -> None:
    lines = render_table(_wide_report(), width=200).splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("id "))
    natural = len(lines[at + 1])
    assert natural < 200  # the table is as wide as its content, not the terminal
    assert lines[at] == (
        f"id  n  languages  ⇄  headline{' ' * (len(LONG) - 4)}sources          dates  cohesion"
    )
    assert lines[at + 2] == f"S1  2  en 2          {LONG}    Example News +1             0.80"
    assert lines[at + 3] == f"       en              {LONG}  Example News                1.00"
    assert max(len(line) for line in lines[at:]) == natural


def test_cli_draws_the_table_to_the_terminal_width() -> None:
    def widths(columns: int) -> tuple[int, str]:
        result = invoke("cluster", ARTICLES, "--backend", "lexical", columns=columns)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        return max(len(line) for line in lines), next(x for x in lines if x.startswith("id "))

    widest, header = widths(50)
    assert widest <= 50
    assert header.split() == ["id", "n", "languages", "⇄", "headline"]  # cohesion went first
    widest, header = widths(250)
    assert 100 < widest < 250  # every headline whole, no blank band
    assert header.split() == ["id", "n", "languages", "⇄", "headline", "dates", "cohesion"]
    assert widths(10)[0] <= 30  # narrower than 30: drawn 30 wide, the terminal wraps it


def test_the_html_page_of_a_view_shows_what_it_left_out(tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} not found: run `make browser` (as root) to install chromium")
    from playwright.sync_api import sync_playwright

    pages = {"view": select(make_report(), min_size=2), "whole": make_report()}
    for name, report in pages.items():
        (tmp_path / f"{name}.html").write_text(to_html(report), "utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            seen = {}
            for name in pages:
                page.goto((tmp_path / f"{name}.html").resolve().as_uri())
                page.wait_for_selector("html[data-charts='1']", timeout=10_000)
                note = page.locator("#selection-note")
                seen[name] = (
                    note.is_visible(),
                    note.text_content(),
                    page.locator("#cards article.card").count(),
                    page.locator("#chart-timeline").inner_text(),
                )
        finally:
            browser.close()
    assert problems == []
    visible, text, cards, timeline = seen["view"]
    assert (visible, text, cards) == (
        True,
        "Showing 2 of 4 stories; left out: 2 of fewer than 2 articles.",
        2,
    )
    # Articles without a date: of the stories on the page (4 of 5), not of the whole run (6).
    assert "4 articles without a date" in timeline
    assert seen["whole"][:3] == (False, "", 4)
    assert "6 articles without a date" in seen["whole"][3]
