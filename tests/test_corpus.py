"""Reading the corpus: formats, encodings, ids, bad inputs and their reasons."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup.read
from dedup.errors import InputError
from dedup.models import Article, Skipped
from dedup.read import read_corpus
from dedup.read.records import parse_date

SAMPLES = Path(__file__).parent.parent / "samples" / "articles"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Vietnam and NVIDIA sign AI deal | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="og:url" content="https://www.example.com/world/vietnam-nvidia-ai-deal">
<meta property="article:published_time" content="2024-12-05T10:00:00+07:00">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a></nav>
<article>
<h1>Vietnam and NVIDIA sign AI deal</h1>
<p>Hanoi, December 5. The government of Vietnam and NVIDIA signed an agreement on Thursday to
set up an AI research centre and an AI data centre in the country.</p>
<p>Prime Minister Pham Minh Chinh met NVIDIA founder Jensen Huang at the government
headquarters and witnessed the signing of the agreement.</p>
</article>
<footer>Copyright Example News 2024. All rights reserved.</footer>
</body></html>
"""


def write(path: Path, content: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def read_one(path: str, **kwargs: Any) -> Article:
    articles, skipped = read_corpus([path], **kwargs)
    assert skipped == []
    assert len(articles) == 1
    return articles[0]


def read_skip(path: str, **kwargs: Any) -> Skipped:
    articles, skipped = read_corpus([path], **kwargs)
    assert articles == []
    assert len(skipped) == 1
    return skipped[0]


# --- formats -------------------------------------------------------------------------------


def test_txt_first_line_is_title_and_paragraphs_stay(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "\n\n  Big news today  \n\nFirst paragraph.\n\nSecond one.\n")
    article = read_one(path)
    assert article.title == "Big news today"
    assert article.text == "First paragraph.\n\nSecond one."
    assert article.id == path
    assert article.origin == path
    assert article.source == "a.txt"
    assert (article.url, article.lang, article.published) == (None, None, None)


def test_md_title_loses_hashes_and_setext_underline(tmp_path: Path) -> None:
    atx = read_one(write(tmp_path / "a.md", "## Markets rally ##\n\nStocks rose.\n"))
    assert (atx.title, atx.text) == ("Markets rally", "Stocks rose.")
    setext = read_one(write(tmp_path / "b.MD", "Markets fall\n======\n\nStocks fell.\n"))
    assert (setext.title, setext.text) == ("Markets fall", "Stocks fell.")


def test_md_front_matter_gives_fields(tmp_path: Path) -> None:
    text = (
        '---\ntitle: "Rates cut"\ndate: 2024-12-06\nurl: https://news.example.org/a\n---\nBody.\n'
    )
    article = read_one(write(tmp_path / "a.md", text))
    assert (article.title, article.text) == ("Rates cut", "Body.")
    assert article.published == dt.date(2024, 12, 6)
    assert article.source == "news.example.org"


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    article = read_one(write(tmp_path / "page.html", PAGE))
    assert article.title == "Vietnam and NVIDIA sign AI deal"
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("Hanoi, December 5.")
    assert paragraphs[1].startswith("Prime Minister Pham Minh Chinh")
    assert "Copyright" not in article.text and "Home" not in article.text
    assert article.source == "Example News"
    assert article.published == dt.date(2024, 12, 5)
    assert article.url == "https://www.example.com/world/vietnam-nvidia-ai-deal"


def test_html_date_not_searched_in_prose(tmp_path: Path) -> None:
    page = PAGE.replace(
        '<meta property="article:published_time" content="2024-12-05T10:00:00+07:00">', ""
    ).replace("Hanoi, December 5.", "Hanoi, 5 December 2024.")
    assert read_one(write(tmp_path / "page.html", page)).published is None


def test_html_without_main_text_is_skipped(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    )
    skip = read_skip(write(tmp_path / "empty.htm", page))
    assert skip.reason == "no article text found in HTML"


def test_json_object_with_aliases_and_meta(tmp_path: Path) -> None:
    record = {
        "ID": 7,
        "Headline": "Rates cut",
        "Body": "The bank cut rates.\n\nMarkets rose.",
        "Site": "Daily",
        "Language": "EN-us",
        "Date": "2024-12-06T10:00:00Z",
        "author": "A. Writer",
        "words": 120,
        "tags": ["a", "b"],
    }
    article = read_one(write(tmp_path / "a.json", json.dumps(record)))
    assert article.id == "7"
    assert (article.title, article.text) == ("Rates cut", "The bank cut rates.\n\nMarkets rose.")
    assert (article.source, article.lang, article.published) == (
        "Daily",
        "en",
        dt.date(2024, 12, 6),
    )
    assert article.meta == {"author": "A. Writer", "words": "120"}


def test_json_array_ids_and_non_objects(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.json", json.dumps([{"text": "One\nbody"}, 5, {"text": "Two"}]))
    articles, skipped = read_corpus([path])
    assert [a.id for a in articles] == [f"{path}:#0", f"{path}:#2"]
    assert [a.origin for a in articles] == [f"{path}:#0", f"{path}:#2"]
    assert [a.source for a in articles] == ["feed.json", "feed.json"]
    assert skipped == [Skipped(f"{path}:#1", "JSON value is not an object")]


def test_json_scalar_is_not_an_object(tmp_path: Path) -> None:
    skip = read_skip(write(tmp_path / "a.json", '"just a string"'))
    assert skip.reason == "JSON value is not an object"


def test_json_invalid(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", '{"text": "x",}')
    skip = read_skip(path)
    assert skip.origin == path
    assert skip.reason.startswith("invalid JSON (")


def test_json_wrapper_object_and_jsonl_in_a_json_file(tmp_path: Path) -> None:
    wrapped = write(tmp_path / "w.json", json.dumps({"count": 2, "articles": [{"text": "A"}]}))
    assert read_one(wrapped).title == "A"
    lines = write(tmp_path / "l.json", '{"text": "A"}\n{"text": "B"}\n')
    articles, skipped = read_corpus([lines])
    assert [a.id for a in articles] == [f"{lines}:1", f"{lines}:2"]
    assert skipped == []


def test_jsonl_lines_ids_and_bad_lines(tmp_path: Path) -> None:
    content = '{"title": "A", "text": "a"}\n\n{"title": "B"\n[1, 2]\n{"id": "x", "text": "c"}\n'
    path = write(tmp_path / "sub" / "f.jsonl", content)
    articles, skipped = read_corpus([str(tmp_path)])
    assert [a.id for a in articles] == ["sub/f.jsonl:1", "x"]
    assert [a.origin for a in articles] == [f"{path}:1", f"{path}:5"]
    assert skipped[0].origin == f"{path}:3"
    assert skipped[0].reason.startswith("invalid JSON (")
    assert skipped[1] == Skipped(f"{path}:4", "JSON value is not an object")


def test_json_that_python_cannot_load(tmp_path: Path) -> None:
    content = '{"text": "a", "n": ' + "1" * 5000 + "}\n" + "[" * 100_000 + "\n"
    path = write(tmp_path / "f.jsonl", content)
    articles, skipped = read_corpus([path])
    assert articles == []
    assert [s.origin for s in skipped] == [f"{path}:1", f"{path}:2"]
    assert skipped[0].reason.startswith("invalid JSON (Exceeds the limit")
    assert skipped[1].reason == "invalid JSON (nested too deeply)"
    deep = write(tmp_path / "deep.json", "[" * 100_000)
    assert read_skip(deep).reason == "invalid JSON (nested too deeply)"


def test_csv_columns_aliases_meta_and_line_numbers(tmp_path: Path) -> None:
    content = (
        "ID,Headline,Content,URL,Published,Section\n"
        'a1,Rates cut,"The bank cut rates.\n\nMarkets rose.",https://www.bank.example/x,'
        "2024-12-06,Business\n"
        ",,,,,\n"
        ",Quake hits,Buildings fell.,,06/12/2024,World\n"
    )
    path = write(tmp_path / "news.csv", content)
    articles, skipped = read_corpus([path])
    assert skipped == []
    first, second = articles
    assert (first.id, first.title, first.text) == (
        "a1",
        "Rates cut",
        "The bank cut rates.\n\nMarkets rose.",
    )
    assert (first.source, first.published) == ("bank.example", dt.date(2024, 12, 6))
    assert first.meta == {"Section": "Business"}
    assert first.origin == f"{path}:2"
    # The quoted field spans lines 2-4 and line 5 has only empty cells: the next row is line 6.
    assert (second.id, second.origin, second.source) == (f"{path}:6", f"{path}:6", "news.csv")
    assert second.published is None
    assert second.meta == {"Section": "World", "published_raw": "06/12/2024"}


def test_csv_semicolons(tmp_path: Path) -> None:
    article = read_one(write(tmp_path / "a.csv", "title;text\nHello, world;Body, with commas\n"))
    assert (article.title, article.text) == ("Hello, world", "Body, with commas")


def test_csv_without_text_column(tmp_path: Path) -> None:
    skip = read_skip(write(tmp_path / "a.csv", "id,story,Title\n1,A,x\n"))
    assert skip.reason == "CSV has no text column (columns: id, story, Title)"


def test_csv_row_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\n1,\n2,Something happened\n")
    articles, skipped = read_corpus([path])
    assert [a.id for a in articles] == ["2"]
    assert skipped == [Skipped(f"{path}:2", "empty text")]


def test_csv_broken_quote_keeps_rows_before(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'id,text\n1,fine\n2,"broken\n3,lost\n')
    articles, skipped = read_corpus([path])
    assert [a.id for a in articles] == ["1"]
    assert len(skipped) == 1
    assert skipped[0].origin == f"{path}:3"
    assert skipped[0].reason.startswith("broken CSV, the rest of the file is not read")


def test_stdin_jsonl(tmp_path: Path) -> None:
    stream = io.BytesIO(b'{"text": "Headline\\nBody"}\nnot json\n{"id": "s", "text": "x"}\n')
    articles, skipped = read_corpus(["-"], stdin=stream)
    assert [(a.id, a.origin, a.title, a.text) for a in articles] == [
        ("stdin:1", "<stdin>:1", "Headline", "Body"),
        ("s", "<stdin>:3", "x", ""),
    ]
    assert skipped[0].origin == "<stdin>:2"
    assert skipped[0].reason.startswith("invalid JSON (")


def test_stdin_over_limit_stops_reading() -> None:
    stream = io.BytesIO(b'{"text": "one"}\n' * 10)  # 16 bytes a line
    articles, skipped = read_corpus(["-"], stdin=stream, max_bytes=40)
    assert [a.id for a in articles] == ["stdin:1", "stdin:2"]
    assert skipped == [
        Skipped("<stdin>:3", "input is over the maximum size of 40 bytes; the rest is not read")
    ]


def test_text_only_record_title_from_first_line(tmp_path: Path) -> None:
    short = {"text": "Short headline\n\nThe body."}
    long = {"text": "x" * 201 + "\n\nMore."}
    articles, _ = read_corpus(
        [write(tmp_path / "a.jsonl", f"{json.dumps(short)}\n{json.dumps(long)}\n")]
    )
    assert (articles[0].title, articles[0].text) == ("Short headline", "The body.")
    assert (articles[1].title, articles[1].text) == ("", "x" * 201 + "\n\nMore.")


def test_source_from_url_host_and_given_source(tmp_path: Path) -> None:
    records = [
        {"text": "a", "url": "https://www.vietnamnews.vn/politics/x.html"},
        {"text": "b", "url": "https://E.example.ORG:8080/y", "source": "Outlet"},
        {"text": "c", "url": "not a url at all"},
    ]
    path = write(tmp_path / "f.jsonl", "\n".join(json.dumps(r) for r in records))
    articles, _ = read_corpus([path])
    assert [a.source for a in articles] == ["vietnamnews.vn", "Outlet", "f.jsonl"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-12-06", dt.date(2024, 12, 6)),
        ("2024-12-06T23:30:00-05:00", dt.date(2024, 12, 6)),
        ("2024-12-06T10:00:00Z", dt.date(2024, 12, 6)),
        ("2024/12/6", dt.date(2024, 12, 6)),
        ("20241206", dt.date(2024, 12, 6)),
        ("Fri, 06 Dec 2024 10:00:00 +0700", dt.date(2024, 12, 6)),
        ("6 December 2024", dt.date(2024, 12, 6)),
        ("Dec 6, 2024", dt.date(2024, 12, 6)),
        (1733443200, dt.date(2024, 12, 6)),
        (1733443200000, dt.date(2024, 12, 6)),
        ("06/12/2024", None),
        ("2024-13-45", None),
        ("yesterday", None),
        ("", None),
        (True, None),
    ],
)
def test_parse_date(raw: object, expected: dt.date | None) -> None:
    assert parse_date(raw) == expected


def test_unparsed_date_kept_raw(tmp_path: Path) -> None:
    article = read_one(write(tmp_path / "a.json", '{"text": "x", "published": "last Friday"}'))
    assert article.published is None
    assert article.meta == {"published_raw": "last Friday"}


# --- encodings and normalisation -----------------------------------------------------------

TEXT = "Tô Lâm gặp Jensen Huang\n\nCafé “AI” résumé."


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with a BOM, native order
        b"\xfe\xff" + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-16-le"),  # no BOM
        TEXT.encode("utf-16-be"),  # no BOM
    ],
    ids=["utf8-bom", "utf16-bom", "utf16be-bom", "utf16le-nobom", "utf16be-nobom"],
)
def test_unicode_encodings(tmp_path: Path, data: bytes) -> None:
    article = read_one(write(tmp_path / "a.txt", data))
    assert (article.title, article.text) == ("Tô Lâm gặp Jensen Huang", "Café “AI” résumé.")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_legacy_8bit(tmp_path: Path, encoding: str) -> None:
    data = "Crème brûlée à la française\n\nDéjà vu, naïve façade.\n".encode(encoding)
    article = read_one(write(tmp_path / "a.txt", data))
    assert (article.title, article.text) == (
        "Crème brûlée à la française",
        "Déjà vu, naïve façade.",
    )


def test_cp1252_punctuation(tmp_path: Path) -> None:
    data = "“Quoted” headline – now\n\nIt’s here…\n".encode("cp1252")
    assert read_one(write(tmp_path / "a.txt", data)).text == "It’s here…"


def test_html_declared_charset(tmp_path: Path) -> None:
    # Ά is 0xB6 in ISO-8859-7 but ¶ in Windows-1253, the code page a detector would pick.
    page = PAGE.replace('charset="utf-8"', 'charset="iso-8859-7"').replace("Hanoi", "Άθήνα")
    article = read_one(write(tmp_path / "a.html", page.encode("iso-8859-7")))
    assert article.text.startswith("Άθήνα, December 5.")


def test_normalisation(tmp_path: Path) -> None:
    data = "Cafe\u0301 news\r\n\r\nLine one\x07\ttab\rnext\u2028line\x0cpage   \n\n\nEnd"
    article = read_one(write(tmp_path / "a.txt", data))
    assert article.title == "Café news"
    assert article.text == "Line one\ttab\nnext\nline\npage\n\n\nEnd"
    record = read_one(write(tmp_path / "a.json", '{"text": "A\\u0000B\\r\\nC\\u0085D"}'))
    assert (record.title, record.text) == ("AB", "C\nD")


def test_stray_nul_byte_is_not_binary(tmp_path: Path) -> None:
    data = b"Title\n\n" + b"A long enough paragraph of text. " * 10 + b"\x00end"
    assert read_one(write(tmp_path / "a.txt", data)).text.endswith("text. end")


def test_binary_files(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256))
    assert read_skip(write(tmp_path / "image.txt", png)).reason == "binary file"
    assert read_skip(write(tmp_path / "blob", png)).reason == "binary file"
    controls = bytes([1, 2, 3, 4, 5, 6, 14, 15, 16, 65]) * 20
    assert read_skip(write(tmp_path / "c.json", controls)).reason == "binary file"
    assert read_skip(write(tmp_path / "d.jsonl", png)).reason == "binary file"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([".txt", ".md", ".json", ".jsonl", ".csv"]))
def test_any_bytes_never_crash(data: bytes, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        articles, skipped = read_corpus([write(Path(tmp) / f"f{ext}", data)])
    for article in articles:
        fields = [article.id, article.title, article.text, *article.meta.values()]
        assert not any(ch in field for field in fields for ch in "\x00\r\x07")
    assert all(skip.reason for skip in skipped)


# --- bad inputs ----------------------------------------------------------------------------


def test_missing_path_raises_before_reading(tmp_path: Path) -> None:
    good = write(tmp_path / "a.txt", "Title\nBody.\n")
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(InputError, match=f"^path not found: {missing}$"):
        read_corpus([good, missing])


def test_over_max_bytes_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.txt", "x" * 2000)
    monkeypatch.setattr(dedup.read, "open", _no_open, raising=False)
    skip = read_skip(path, max_bytes=1024)
    assert skip.reason == "file is 2 KB, over the maximum size of 1 KB"
    big = write(tmp_path / "huge.jsonl", b"x" * (3 * 1024 * 1024 + 100))
    assert read_skip(big, max_bytes=2 * 1024 * 1024).reason == (
        "file is 3 MB, over the maximum size of 2 MB"
    )


def _no_open(*args: object, **kwargs: object) -> None:
    raise AssertionError("a file over the limit was opened")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "a.txt", "Title\nBody.\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(dedup.read, "open", denied, raising=False)
    assert read_skip(path).reason == "cannot read file: Permission denied"


def test_broken_symlink_in_directory(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    skip = read_skip(str(tmp_path))
    assert skip == Skipped(
        str(tmp_path / "gone.txt"), "cannot read file: No such file or directory"
    )


def test_empty_text(tmp_path: Path) -> None:
    assert read_skip(write(tmp_path / "a.txt", " \n\t\n\x0c\n")).reason == "empty text"
    assert (
        read_skip(write(tmp_path / "a.json", '{"title": " ", "text": ""}')).reason == "empty text"
    )


# --- ids, walking --------------------------------------------------------------------------


def test_duplicate_given_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    articles, skipped = read_corpus([path])
    assert [a.text for a in articles] == [""]
    assert [a.title for a in articles] == ["x"]
    assert skipped == [Skipped(f"{path}:2", f"duplicate id a (first seen at {path}:1)")]


def test_same_relative_path_under_two_inputs(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "a.txt", "One\nBody.\n")
    second = write(tmp_path / "two" / "a.txt", "Two\nBody.\n")
    articles, skipped = read_corpus([str(tmp_path / "one"), str(tmp_path / "two")])
    assert [a.id for a in articles] == ["a.txt", second]
    assert [a.origin for a in articles] == [first, second]
    assert skipped == []


def test_same_file_twice(tmp_path: Path) -> None:
    path = write(tmp_path / "d" / "a.txt", "One\nBody.\n")
    articles, skipped = read_corpus([str(tmp_path / "d"), path])
    assert len(articles) == 1
    assert skipped == [Skipped(path, f"same file as {path}, already read")]


def test_walk_is_sorted_skips_hidden_and_other_types(tmp_path: Path) -> None:
    for name in ["b.txt", "a/z.md", "a/b/c.txt", "A.txt", "c.json"]:
        write(
            tmp_path / name,
            f'{{"text": "{name}"}}' if name.endswith(".json") else f"{name}\nBody.\n",
        )
    write(tmp_path / ".hidden.txt", "hidden\n")
    write(tmp_path / ".git" / "x.txt", "hidden\n")
    write(tmp_path / "README", "not read\n")
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff\xe0")
    articles, skipped = read_corpus([str(tmp_path)])
    assert [a.id for a in articles] == ["A.txt", "a/b/c.txt", "a/z.md", "b.txt", "c.json"]
    assert articles[1].origin == str(tmp_path / "a" / "b" / "c.txt")
    assert skipped == []


def test_explicit_unknown_extension_read_as_text(tmp_path: Path) -> None:
    article = read_one(write(tmp_path / "README", "Read me\n\nPlease.\n"))
    assert (article.id, article.title, article.text) == (
        str(tmp_path / "README"),
        "Read me",
        "Please.",
    )


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.txt", "A\nBody.\n")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d", target_is_directory=True)
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "d" / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    articles, skipped = read_corpus([str(tmp_path / "d")])
    assert [a.id for a in articles] == ["a.txt"]
    assert skipped == []


def test_samples_directory() -> None:
    articles, skipped = read_corpus([str(SAMPLES)])
    assert skipped == []
    assert [a.id for a in articles] == sorted(p.name for p in SAMPLES.glob("*.txt"))
    assert len(articles) == 5
    for article in articles:
        lines = (SAMPLES / article.id).read_text(encoding="utf-8").splitlines()
        assert article.title == next(line.strip() for line in lines if line.strip())
        assert "\n\n" in article.text  # paragraphs survive for the cleaning stage
        assert article.source == article.id
    assert articles[0].title.startswith("General Secretary and President attends seminar")
    assert articles[2].title == "Tổng Bí thư Tô Lâm tiếp Chủ tịch Tập đoàn NVIDIA Jensen Huang"


# --- the outputs of crawlers, as they write them -------------------------------------------

NEWS_PLEASE = {  # news-please's fields: the body in maintext, "text" null
    "authors": ["Jane Doe"],
    "date_download": "2023-02-07 10:00:00",
    "date_modify": None,
    "date_publish": "2023-02-06 08:17:00",
    "description": "A strong earthquake struck southern Turkey.",
    "filename": "https%3A%2F%2Fexample.com%2Fquake.json",
    "image_url": None,
    "language": "en",
    "localpath": None,
    "maintext": "A 7.8 magnitude earthquake struck southern Turkey near the Syrian border.",
    "source_domain": "example.com",
    "text": None,
    "title": "Earthquake hits Turkey and Syria",
    "title_page": None,
    "title_rss": None,
    "url": "https://example.com/quake",
}

TRAFILATURA = {  # trafilatura's JSON output: "source" is the page's URL, "url" may be absent
    "title": "Erdbeben in der Türkei",
    "author": None,
    "hostname": "beispiel.de",
    "date": "2023-02-06",
    "fingerprint": "e5b0f2c1",
    "id": None,
    "license": None,
    "comments": "",
    "raw_text": "Ein Erdbeben der Stärke 7,8 erschütterte den Süden der Türkei.",
    "text": "Ein Erdbeben der Stärke 7,8 erschütterte den Süden der Türkei.",
    "language": "de",
    "image": None,
    "pagetype": "article",
    "source": "https://www.beispiel.de/erdbeben",
    "source-hostname": "Beispiel Zeitung",
    "excerpt": None,
    "categories": "",
    "tags": "",
}


def test_news_please_records_keep_their_body_date_and_outlet(tmp_path: Path) -> None:
    path = write(tmp_path / "np.jsonl", json.dumps(NEWS_PLEASE) + "\n")
    [article], skipped = read_corpus([path])
    assert skipped == []
    assert article.text.startswith("A 7.8 magnitude earthquake")
    assert article.title == "Earthquake hits Turkey and Syria"
    assert article.published == dt.date(2023, 2, 6)
    assert article.source == "example.com"
    assert (article.lang, article.url) == ("en", "https://example.com/quake")


def test_trafilatura_json_source_is_the_url_not_the_outlet(tmp_path: Path) -> None:
    path = write(tmp_path / "page.json", json.dumps(TRAFILATURA))
    [article], skipped = read_corpus([path])
    assert skipped == []
    assert article.url == "https://www.beispiel.de/erdbeben"
    assert article.source == "Beispiel Zeitung"
    assert article.published == dt.date(2023, 2, 6)
    assert article.text.startswith("Ein Erdbeben")
    without_site = {k: v for k, v in TRAFILATURA.items() if k != "source-hostname"}
    path = write(tmp_path / "bare.json", json.dumps(without_site))
    [article], _ = read_corpus([path])
    assert article.source == "beispiel.de"


def test_a_record_with_a_title_and_no_text_is_skipped_with_its_reason(tmp_path: Path) -> None:
    rows = "id,title,text\na,Earthquake hits Turkey,\nb,Floods in Spain,Rivers burst their banks.\n"
    path = write(tmp_path / "c.csv", rows)
    articles, skipped = read_corpus([path])
    assert [a.id for a in articles] == ["b"]
    assert skipped == [Skipped(f"{path}:2", "title only, no text")]
    one_line = write(tmp_path / "headline.txt", "Earthquake hits Turkey\n")
    assert read_corpus([one_line]) == ([], [Skipped(one_line, "title only, no text")])


def test_fields_named_by_the_user_are_read_from_those_columns_only(tmp_path: Path) -> None:
    from dedup.read.records import DEFAULT_FIELDS

    rows = "guid,headline,story,when,text\nx1,Quake,Buildings fell in Gaziantep.,2023-02-06,n/a\n"
    path = write(tmp_path / "c.csv", rows)
    fields = DEFAULT_FIELDS.naming({"id": "GUID", "text": "story", "published": "when"})
    [article], skipped = read_corpus([path], fields=fields)
    assert skipped == []
    assert (article.id, article.title, article.text) == (
        "x1",
        "Quake",
        "Buildings fell in Gaziantep.",
    )
    assert article.published == dt.date(2023, 2, 6)
    assert article.meta["text"] == "n/a"  # not the text now: kept as any other column
    with pytest.raises(InputError, match="no record field body"):
        DEFAULT_FIELDS.naming({"body": "story"})


def test_normalise_skips_the_work_a_text_does_not_need() -> None:
    """normalise() translates only a text holding a character of its table (the search finds
    exactly those, every code point checked) and cuts lines only when one has trailing
    spaces: the same text as the whole work, on 20,000 random strings of the awkward ones."""
    from dedup.read.decode import _TRANSLATE, _TRANSLATED, normalise

    found = {c for c in range(0x110000) if _TRANSLATED.search(chr(c))}
    assert found == set(_TRANSLATE)
    assert normalise("a\r\nb\x0bc\u2029d\ufeff\x85e ") == "a\nb\nc\n\nd\ne"
    assert normalise("Cafe\u0301  \nnext") == "Café\nnext"
    rng = random.Random(5)
    alphabet = "ab \t\n\r\x0b\x0c\x1c\x85\xa0\u2000\u2028\u2029\u3000\ufeff\u0301e"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        slow = unicodedata.normalize("NFC", text.replace("\r\n", "\n").translate(_TRANSLATE))
        slow = "\n".join(line.rstrip() for line in slow.split("\n")).strip()
        assert normalise(text) == slow, repr(text)
