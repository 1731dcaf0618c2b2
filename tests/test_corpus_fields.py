"""Record fields named by the user, and standard input as JSONL, CSV or plain text."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dedup import Settings, run
from dedup.cli import app
from dedup.config import RECORD_FIELDS
from dedup.errors import InputError
from dedup.models import Skipped
from dedup.read import read_corpus
from dedup.read.records import DEFAULT_FIELDS, FIELDS

runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}

QUAKE = "Buildings fell in Gaziantep after a 7.8 magnitude earthquake on Monday."
FLOODS = "Rivers burst their banks in Valencia and streets were flooded."


def stdin(text: str | bytes) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text)


def cut_off_at(line: int, limit: int) -> Skipped:
    """The skip of what ``--max-bytes`` cut off stdin at ``line``."""
    reason = f"input is over the maximum size of {limit} bytes; the rest is not read"
    return Skipped(f"<stdin>:{line}", reason)


def test_the_record_fields_are_the_ones_settings_know() -> None:
    assert tuple(FIELDS) == RECORD_FIELDS


# Standard input as CSV.


def test_csv_on_stdin_is_read_as_a_csv_file_is() -> None:
    data = f'id,title,text\na1,Quake,"{QUAKE}\nRescuers searched."\na2,Floods,{FLOODS}\n'
    articles, skipped = read_corpus(["-"], stdin=stdin(data), stdin_format="csv")
    assert skipped == []
    assert [(a.id, a.title, a.origin) for a in articles] == [
        ("a1", "Quake", "<stdin>:2"),
        ("a2", "Floods", "<stdin>:4"),  # the quoted text spans lines 2 and 3
    ]
    assert articles[0].text == f"{QUAKE}\nRescuers searched."


def test_csv_on_stdin_without_ids_gets_stdin_line_ids_and_its_delimiter_found() -> None:
    data = f"title;text\r\nQuake;{QUAKE}\r\nFloods;{FLOODS}\r\n"
    articles, skipped = read_corpus(["-"], stdin=stdin(data), stdin_format="csv")
    assert skipped == []
    assert [(a.id, a.title, a.text) for a in articles] == [
        ("stdin:2", "Quake", QUAKE),
        ("stdin:3", "Floods", FLOODS),
    ]


def test_csv_on_stdin_reads_the_columns_the_user_named() -> None:
    data = f"guid,headline,story,pubDate\nx1,Quake,{QUAKE},2023-02-06\n"
    fields = DEFAULT_FIELDS.naming({"id": "guid", "text": "Story", "published": "pubDate"})
    [article], skipped = read_corpus(["-"], stdin=stdin(data), stdin_format="csv", fields=fields)
    assert skipped == []
    assert (article.id, article.title, article.text) == ("x1", "Quake", QUAKE)
    assert article.published == dt.date(2023, 2, 6)


def test_csv_on_stdin_without_a_text_column_is_one_skip() -> None:
    articles, skipped = read_corpus(["-"], stdin=stdin("a,b\n1,2\n"), stdin_format="csv")
    assert (articles, skipped) == (
        [],
        [Skipped("<stdin>", "CSV has no text column (columns: a, b)")],
    )


def test_csv_on_stdin_stops_at_max_bytes_where_the_broken_row_starts() -> None:
    head = f"title,text\nQuake,{QUAKE}\n"
    data = head + f'Floods,"{FLOODS}\n{FLOODS}"\n'
    limit = len(head) + 20  # within the quoted text of the second row
    articles, skipped = read_corpus(["-"], stdin=stdin(data), stdin_format="csv", max_bytes=limit)
    assert [a.title for a in articles] == ["Quake"]
    assert skipped == [cut_off_at(3, limit)]


def test_binary_stdin_is_a_skip_in_every_format() -> None:
    for form in ("jsonl", "csv", "text"):
        data = stdin(b"\x00\x01\x02\xff" * 100)
        result = read_corpus(["-"], stdin=data, stdin_format=form)  # type: ignore[arg-type]
        assert result == ([], [Skipped("<stdin>", "binary file")]), form


# Standard input as plain text.

TEXT = f"""Quake hits Turkey
{QUAKE}
Rescuers searched the rubble.

   \t
Floods in Spain
{FLOODS}

A headline alone
"""


def test_text_on_stdin_is_one_article_per_block_of_lines() -> None:
    articles, skipped = read_corpus(["-"], stdin=stdin(TEXT), stdin_format="text")
    assert [(a.id, a.title, a.text, a.origin) for a in articles] == [
        ("stdin:1", "Quake hits Turkey", f"{QUAKE}\nRescuers searched the rubble.", "<stdin>:1"),
        ("stdin:6", "Floods in Spain", FLOODS, "<stdin>:6"),
    ]
    assert skipped == [Skipped("<stdin>:9", "title only, no text")]


def test_text_on_stdin_takes_windows_line_ends_and_utf16() -> None:
    crlf = TEXT.replace("\n", "\r\n")
    for data in (crlf.encode("utf-8"), b"\xff\xfe" + TEXT.encode("utf-16-le")):
        articles, _ = read_corpus(["-"], stdin=stdin(data), stdin_format="text")
        assert [(a.title, a.text.split("\n")[0]) for a in articles] == [
            ("Quake hits Turkey", QUAKE),
            ("Floods in Spain", FLOODS),
        ]


def test_text_on_stdin_stops_at_max_bytes_and_says_where() -> None:
    first = f"Quake hits Turkey\n{QUAKE}\n\n"
    data = first + f"Floods in Spain\n{FLOODS}\n{FLOODS}\n"
    limit = len(first) + 40  # inside the second article
    articles, skipped = read_corpus(["-"], stdin=stdin(data), stdin_format="text", max_bytes=limit)
    assert [a.title for a in articles] == ["Quake hits Turkey"]
    # The article the limit broke off is not read in part: the skip names its first line.
    assert skipped == [cut_off_at(4, limit)]


def test_text_on_stdin_is_read_as_written_whatever_fields_are_named() -> None:
    fields = DEFAULT_FIELDS.naming({"text": "story", "title": "headline"})
    articles, _ = read_corpus(["-"], stdin=stdin(TEXT), stdin_format="text", fields=fields)
    assert [a.title for a in articles] == ["Quake hits Turkey", "Floods in Spain"]


def test_text_and_markdown_files_keep_their_fields_when_json_ones_are_renamed(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text(f"Quake hits Turkey\n{QUAKE}\n", encoding="utf-8")
    (tmp_path / "b.md").write_text(f"# Floods in Spain\n\n{FLOODS}\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"headline": "Fire", "story": "A fire broke out in Lisbon."}) + "\n"
    )
    fields = DEFAULT_FIELDS.naming({"text": "story", "title": "headline"})
    articles, skipped = read_corpus([str(tmp_path)], fields=fields)
    assert skipped == []
    assert [(a.title, a.text) for a in articles] == [
        ("Quake hits Turkey", QUAKE),
        ("Floods in Spain", FLOODS),
        ("Fire", "A fire broke out in Lisbon."),
    ]


def test_an_unbuffered_pipe_on_stdin_is_read_to_its_end() -> None:
    """A short read ends a buffered stream (a terminal's Ctrl-D); a raw pipe's short reads
    are only what has come so far, so it is read through a buffer."""
    import os
    import threading

    lines = [
        json.dumps({"id": f"n{k}", "title": "Quake", "text": QUAKE}) + "\n" for k in range(300)
    ]
    read_end, write_end = os.pipe()

    def write() -> None:
        with open(write_end, "wb", buffering=0) as pipe:
            for line in lines:  # a line at a time: each raw read returns a little
                pipe.write(line.encode())

    writer = threading.Thread(target=write)
    writer.start()
    with open(read_end, "rb", buffering=0) as raw:
        articles, skipped = read_corpus(["-"], stdin=raw)  # type: ignore[arg-type]
    writer.join()
    assert (len(articles), skipped) == (300, [])


def test_a_field_named_for_a_key_no_record_has_is_said_with_the_keys_records_have(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text(f"Quake hits Turkey\n{QUAKE}\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "c", "title": "Fire", "body": "A fire broke out in Lisbon."}) + "\n"
    )
    (tmp_path / "d.csv").write_text(f"id,title,body,Link\nd,Floods,{FLOODS},x\n")
    named = {"title": "headline", "id": "uid", "published": "pub", "url": "link"}
    notes: list[str] = []
    articles, skipped = read_corpus(
        [str(tmp_path)], fields=DEFAULT_FIELDS.naming(named), notes=notes
    )
    assert (len(articles), skipped) == (3, [])
    # The text file's own fields are no keys of a record; the CSV's Link column is "link".
    keys = " (keys: body, id, link, title)"
    assert notes == [
        f"no record has the key 'uid' named for the id field{keys}",
        f"no record has the key 'headline' named for the title field{keys}",
        f"no record has the key 'pub' named for the published field{keys}",
    ]
    # A text key no record has: each record's skip says so, and the run's error with it.
    with pytest.raises(InputError) as info:
        run([str(tmp_path / "c.jsonl")], Settings(backend="lexical", fields={"text": "maintxt"}))
    assert str(info.value) == (
        "no usable article in the input (1 inputs skipped; first: "
        f"{tmp_path / 'c.jsonl'}:1: no key 'maintxt' for the text (keys: body, id, title))"
    )


def test_a_mistyped_field_is_a_warning_of_the_run(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "c", "title": "Fire", "body": "A fire broke out in Lisbon."}) + "\n"
    )
    args = ["cluster", str(tmp_path / "c.jsonl"), "-b", "lexical", "--json"]
    result = runner.invoke(app, [*args, "--title-field", "heading"], env=ENV)
    assert result.exit_code == 0, result.stderr
    said = "no record has the key 'heading' named for the title field (keys: body, id, title)"
    assert result.stderr == f"Warning: {said}\n"
    assert json.loads(result.stdout)["run"]["warnings"] == [said]
    store = runner.invoke(app, [*args, "--store", str(tmp_path / "s.db"), "--id-field", "x"])
    assert store.exit_code == 0, store.stderr
    assert "no record has the key 'x' named for the id field" in store.stderr


def test_an_unknown_stdin_format_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown stdin format 'xml': use one of jsonl, csv, text"):
        read_corpus(["-"], stdin=stdin(""), stdin_format="xml")  # type: ignore[arg-type]


# Settings.


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": "story"}, "no record field body: the fields are " + ", ".join(RECORD_FIELDS)),
        ({"text": "  "}, "empty key or column name for the text field"),
    ],
)
def test_settings_refuse_bad_fields_naming_the_setting(
    fields: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        Settings(backend="lexical", fields=fields)
    assert (str(caught.value), caught.value.setting) == (message, "fields")


def test_settings_refuse_an_unknown_stdin_format() -> None:
    with pytest.raises(InputError) as caught:
        Settings(stdin_format="xml")  # type: ignore[arg-type]
    assert caught.value.setting == "stdin_format"


def test_settings_keep_the_named_columns_stripped() -> None:
    assert Settings(fields={"text": " story "}).fields == {"text": "story"}


def test_the_pipeline_reads_stdin_in_the_format_and_fields_of_its_settings() -> None:
    rows = (
        "guid,headline,story\n"
        f"x1,Quake hits Turkey,{QUAKE}\n"
        f"x2,Earthquake in Turkey,{QUAKE} Rescuers searched the rubble.\n"
        f"x3,Floods in Spain,{FLOODS}\n"
    )
    settings = Settings(
        backend="lexical", stdin_format="csv", fields={"id": "guid", "text": "story"}
    )
    report = run(["-"], settings, stdin=stdin(rows))
    assert sorted(sorted(m.article.id for m in s.members) for s in report.stories) == [
        ["x1", "x2"],
        ["x3"],
    ]


# The command line: the README's examples, one per crawler output.


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin, env=ENV)


def ids_and_titles(stdout: str) -> list[tuple[str, str]]:
    doc = json.loads(stdout)
    return sorted((m["id"], m["title"]) for s in doc["stories"] for m in s["members"])


def only_member(result: Any) -> dict[str, Any]:
    """The one article of a run's JSON report."""
    assert result.exit_code == 0, result.stderr
    [story] = json.loads(result.stdout)["stories"]
    [member] = story["members"]
    return member  # type: ignore[no-any-return]


def test_news_please_output_is_read_out_of_the_box(tmp_path: Path) -> None:
    record = {
        "title": "Earthquake hits Turkey",
        "maintext": QUAKE,
        "date_publish": "2023-02-06 08:17:00",
        "source_domain": "example.com",
        "text": None,
    }
    (tmp_path / "quake.json").write_text(json.dumps(record), encoding="utf-8")
    member = only_member(invoke("cluster", str(tmp_path), "--backend", "lexical", "--json"))
    assert (member["title"], member["published"], member["source"]) == (
        "Earthquake hits Turkey",
        "2023-02-06",
        "example.com",
    )


def test_trafilatura_json_with_its_raw_text_chosen(tmp_path: Path) -> None:
    record = {
        "title": "Erdbeben in der Türkei",
        "text": "- Ein Erdbeben\n- erschütterte die Türkei",  # as trafilatura formats it
        "raw_text": "Ein Erdbeben der Stärke 7,8 erschütterte den Süden der Türkei.",
        "date": "2023-02-06",
        "hostname": "beispiel.de",
        "source": "https://beispiel.de/erdbeben",
    }
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["--text-field", "raw_text", "-b", "lexical", "--json", "--out", str(out)]
    member = only_member(invoke("cluster", str(path), *args))
    assert (member["source"], member["url"], member["published"]) == (
        "beispiel.de",
        "https://beispiel.de/erdbeben",
        "2023-02-06",
    )
    [story] = [json.loads(line) for line in (out / "stories.jsonl").read_text().splitlines()]
    assert story["articles"][0]["text"].endswith(record["raw_text"])


def test_a_csv_with_its_own_columns_named_by_field(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "guid,headline,story,pubDate\n"
        f"x1,Quake hits Turkey,{QUAKE},2023-02-06\n"
        f"x2,Floods in Spain,{FLOODS},2023-03-01\n",
        encoding="utf-8",
    )
    args = ["--field", "id=guid", "--field", "title=headline", "--field", "text=story"]
    result = invoke(
        "cluster", str(path), *args, "--date-field", "pubDate", "-b", "lexical", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert ids_and_titles(result.stdout) == [("x1", "Quake hits Turkey"), ("x2", "Floods in Spain")]
    dates = sorted(
        m["published"] for s in json.loads(result.stdout)["stories"] for m in s["members"]
    )
    assert dates == ["2023-02-06", "2023-03-01"]


def test_csv_on_stdin_from_the_command_line() -> None:
    rows = f"id,body\na,{QUAKE}\nb,{FLOODS}\n"
    result = invoke(
        "cluster", "-", "--format", "csv", "--text-field", "body", "-b", "lexical", "--json",
        stdin=rows,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [i for i, _ in ids_and_titles(result.stdout)] == ["a", "b"]


def test_text_on_stdin_from_the_command_line() -> None:
    result = invoke("cluster", "-", "--format", "text", "-b", "lexical", "--json", stdin=TEXT)
    assert result.exit_code == 0, result.stderr
    assert ids_and_titles(result.stdout) == [
        ("stdin:1", "Quake hits Turkey"),
        ("stdin:6", "Floods in Spain"),
    ]
    assert result.stderr == (
        "Warning: skipped 1 input(s): <stdin>:9: title only, no text (the report lists them all)\n"
    )
