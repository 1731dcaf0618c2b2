"""Report writers: exact JSON, Markdown and terminal output for a tiny hand-made report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedup.errors import OutputError
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.report import (
    SCHEMA_VERSION,
    render_table,
    story_records,
    to_dict,
    to_json,
    to_markdown,
)
from dedup.report.html import to_html
from dedup.report.outputs import check_writable, write_outputs, write_text_atomic

LONG_TITLE = (
    "Storm warning issued for the northern provinces as a second typhoon approaches the coast"
)


def _article(
    id: str,
    title: str,
    text: str,
    source: str,
    lang: str,
    published: dt.date | None,
    url: str | None = None,
) -> Article:
    return Article(
        id=id,
        title=title,
        text=text,
        source=source,
        url=url,
        lang=lang,
        published=published,
        origin=f"corpus/{id}.txt",
    )


def make_report() -> Report:
    # a1 has a pipe and a newline in its title; a3 is a1 again with other case and spacing.
    a1 = _article(
        "a1",
        "Flood | hits\nHanoi",
        "Water rose overnight.",
        "example.com",
        "en",
        dt.date(2024, 9, 22),
        "https://example.com/flood",
    )
    a2 = _article(
        "a2", "Lũ lụt ở Hà Nội", "Nước dâng cao.", "vnexpress.net", "vi", dt.date(2024, 9, 23)
    )
    a3 = _article(
        "a3", "FLOOD |  hits Hanoi", "water rose  overnight.", "mirror.example", "en", None
    )
    a4 = _article(
        "a4", LONG_TITLE, "Winds of 150 km/h.", "news.example", "en", dt.date(2024, 9, 24)
    )
    s1 = Story(
        "S1",
        (Member(a1, 1.0), Member(a2, 0.87654), Member(a3, 0.99999)),
        cohesion_min=0.81234,
        cohesion_mean=0.9,
    )
    s2 = Story("S2", (Member(a4, 1.0),), cohesion_min=None, cohesion_mean=None)
    run = RunInfo(
        version="0.1.0",
        backend="hybrid",
        model="intfloat/multilingual-e5-small",
        threshold=0.5,
        related_threshold=0.25,
        inputs=("corpus",),
        timings={"read": 0.12345, "embed": 1.0},
        warnings=("1 article has no date",),
    )
    return Report(
        stories=(s1, s2),
        related=(Related("S1", "S2", 0.41234),),
        skipped=(Skipped("corpus/bad.json:3", "no title or text"),),
        run=run,
    )


def _member(a: str, title: str, source: str, lang: str, day: str | None, sim: float) -> Any:
    return {
        "id": a,
        "title": title,
        "source": source,
        "lang": lang,
        "published": day,
        "inferred_date": None,
        "inferred_from": None,
        "url": "https://example.com/flood" if a == "a1" else None,
        "origin": f"corpus/{a}.txt",
        "similarity": sim,
    }


def test_to_dict_is_the_documented_document() -> None:
    assert to_dict(make_report()) == {
        "schema": "1",
        "run": {
            "version": "0.1.0",
            "backend": "hybrid",
            "model": "intfloat/multilingual-e5-small",
            "threshold": 0.5,
            "related_threshold": 0.25,
            "inputs": ["corpus"],
            "timings": {"embed": 1.0, "read": 0.123},
            "warnings": ["1 article has no date"],
            "trust_text_dates": False,
        },
        "summary": {
            "articles": 4,
            "stories": 2,
            "multi_article_stories": 1,
            "singletons": 1,
            "cross_language_stories": 1,
            "skipped": 1,
            "duplicate_ratio": 0.5,
            "languages": {"en": 3, "vi": 1},
        },
        "stories": [
            {
                "id": "S1",
                "headline": "Flood | hits\nHanoi",
                "size": 3,
                "languages": {"en": 2, "vi": 1},
                "sources": ["example.com", "mirror.example", "vnexpress.net"],
                "first_date": "2024-09-22",
                "last_date": "2024-09-23",
                "cross_language": True,
                "cohesion": {"min": 0.8123, "mean": 0.9},
                "members": [
                    _member("a1", "Flood | hits\nHanoi", "example.com", "en", "2024-09-22", 1.0),
                    _member("a2", "Lũ lụt ở Hà Nội", "vnexpress.net", "vi", "2024-09-23", 0.8765),
                    _member("a3", "FLOOD |  hits Hanoi", "mirror.example", "en", None, 1.0),
                ],
            },
            {
                "id": "S2",
                "headline": LONG_TITLE,
                "size": 1,
                "languages": {"en": 1},
                "sources": ["news.example"],
                "first_date": "2024-09-24",
                "last_date": "2024-09-24",
                "cross_language": False,
                "cohesion": None,
                "members": [_member("a4", LONG_TITLE, "news.example", "en", "2024-09-24", 1.0)],
            },
        ],
        "related": [{"a": "S1", "b": "S2", "similarity": 0.4123}],
        "skipped": [{"origin": "corpus/bad.json:3", "reason": "no title or text"}],
    }


def test_to_json_is_deterministic_sorted_and_utf8() -> None:
    report = make_report()
    text = to_json(report)
    assert text == to_json(make_report())
    assert text.endswith("}\n")
    assert "Lũ lụt ở Hà Nội" in text  # not \u-escaped

    def keys_sorted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert keys == sorted(keys)
        return dict(pairs)

    assert json.loads(text, object_pairs_hook=keys_sorted) == to_dict(report)
    assert json.loads(text)["schema"] == SCHEMA_VERSION
    assert "\n" not in to_json(report, indent=None).rstrip("\n")


def test_numbers_become_plain_rounded_floats() -> None:
    report = make_report()
    odd = Story(
        "S9",
        (
            Member(report.stories[0].members[0].article, float(np.float32(0.123456))),
            Member(report.stories[0].members[1].article, float("nan")),
        ),
        cohesion_min=-0.000001,
        cohesion_mean=float("inf"),
    )
    doc = to_dict(Report((odd,), (), (), report.run))
    story = doc["stories"][0]
    assert [m["similarity"] for m in story["members"]] == [0.1235, None]
    assert story["cohesion"] == {"min": 0.0, "mean": None}
    assert str(story["cohesion"]["min"]) == "0.0"  # not -0.0
    json.dumps(doc, allow_nan=False)  # strict JSON: no NaN or Infinity


def test_story_records_drop_exact_copies_and_name_them() -> None:
    records = list(story_records(make_report()))
    assert [r["story_id"] for r in records] == ["S1", "S2"]
    first = records[0]
    assert [a["id"] for a in first["articles"]] == ["a1", "a2"]
    assert first["dropped_copies"] == ["a3"]
    assert first["size"] == 3
    assert first["articles"][0] == {
        "id": "a1",
        "title": "Flood | hits\nHanoi",
        "source": "example.com",
        "lang": "en",
        "published": "2024-09-22",
        "inferred_date": None,
        "inferred_from": None,
        "url": "https://example.com/flood",
        "similarity": 1.0,
        "text": "Flood | hits\nHanoi\n\nWater rose overnight.",
    }
    assert first["articles"][1]["similarity"] == 0.8765
    assert records[1]["dropped_copies"] == []
    assert records[1]["articles"][0]["text"] == f"{LONG_TITLE}\n\nWinds of 150 km/h."


EXPECTED_MARKDOWN = """\
# dedup report

4 articles · 2 stories (1 multi-article, 1 cross-language) · 1 skipped · backend hybrid, \
model intfloat/multilingual-e5-small, threshold 0.50

- Warning: 1 article has no date

## S1 · Flood \\| hits Hanoi

Languages: en 2 · vi 1 · Sources: example.com, mirror.example, vnexpress.net · \
Dates: 2024-09-22 – 2024-09-23 · Cohesion: min 0.81, mean 0.90

| Title | Source | Lang | Date | Similarity |
| --- | --- | --- | --- | ---: |
| [Flood \\| hits Hanoi](<https://example.com/flood>) | example.com | en | 2024-09-22 | 1.00 |
| Lũ lụt ở Hà Nội | vnexpress.net | vi | 2024-09-23 | 0.88 |
| FLOOD \\| hits Hanoi | mirror.example | en | — | 1.00 |

Related: S2 (0.41)

## Single-article stories

| Story | Title | Source | Lang | Date | Related |
| --- | --- | --- | --- | --- | --- |
| S2 | Storm warning issued for the northern provinces as a second typhoon approaches the \
coast | news.example | en | 2024-09-24 | S1 (0.41) |

## Skipped inputs (1)

- corpus/bad.json:3: no title or text
"""


def test_markdown_exact() -> None:
    assert to_markdown(make_report()) == EXPECTED_MARKDOWN


def test_markdown_escapes_syntax_in_cells() -> None:
    report = make_report()
    a = Article(id="x", title="*Big* [news] <b>_now_</b> #1", text="t", lang="en")
    b = Article(id="y", title="plain", text="u", lang="en", url="https://e.x/a b|c")
    odd = Story("S7", (Member(a, 1.0), Member(b, 0.5)), 0.5, 0.5)
    text = to_markdown(Report((odd,), (), (), report.run))
    assert "## S7 · \\*Big\\* \\[news\\] \\<b\\>\\_now\\_\\</b\\> \\#1\n" in text
    assert "| [plain](<https://e.x/a%20b%7Cc>) | — | en | — | 0.50 |" in text


EXPECTED_TABLE = """\
4 articles · 2 stories (1 multi-article, 1 cross-language) · 1 skipped
backend hybrid, model intfloat/multilingual-e5-small, threshold 0.50

id  n  languages    ⇄  headline                              sources         dates          cohesion
────────────────────────────────────────────────────────────────────────────────────────────────────
S1  3  en 2 · vi 1  ⇄  Flood | hits Hanoi                    example.com +2  2024-09-22/23      0.90
       en                Flood | hits Hanoi                  example.com     2024-09-22         1.00
       vi                Lũ lụt ở Hà Nội                     vnexpress.net   2024-09-23         0.88
       en                FLOOD | hits Hanoi                  mirror.example                     1.00

S2  1  en 1            Storm warning issued for the northe…  news.example    2024-09-24

Related:
  S1 ~ S2 0.41

Skipped 1 input:
  corpus/bad.json:3: no title or text
"""


def test_render_table_exact_at_width_100() -> None:
    text = render_table(make_report(), width=100)
    assert text == EXPECTED_TABLE
    assert all(len(line) <= 100 and line == line.rstrip() for line in text.splitlines())


def test_render_table_narrow_drops_dates_then_sources_to_keep_the_headline() -> None:
    def header_and_first_row(width: int) -> tuple[list[str], str]:
        lines = render_table(make_report(), width=width).splitlines()
        assert all(len(line) <= width for line in lines)
        at = next(i for i, line in enumerate(lines) if line.startswith("id "))
        return lines[at].split(), lines[at + 2]

    header, _ = header_and_first_row(80)
    assert header == ["id", "n", "languages", "⇄", "headline", "sources", "cohesion"]
    header, row = header_and_first_row(60)
    assert header == ["id", "n", "languages", "⇄", "headline", "cohesion"]
    assert row == "S1  3  en 2 · vi 1  ⇄  Flood | hits Hanoi               0.90"


def test_render_table_caps_long_lists_and_handles_no_stories() -> None:
    report = make_report()
    skipped = tuple(Skipped(f"bad/{i:02d}.txt", "empty") for i in range(25))
    text = render_table(Report((), (), skipped, report.run), width=100)
    assert text.splitlines()[:4] == [
        "0 articles · 0 stories (0 multi-article, 0 cross-language) · 25 skipped",
        "backend hybrid, model intfloat/multilingual-e5-small, threshold 0.50",
        "No stories.",
        "",
    ]
    assert text.splitlines()[4:6] == ["Skipped 25 inputs:", "  bad/00.txt: empty"]
    assert text.endswith("  bad/19.txt: empty\n  ... and 5 more inputs (see --json)\n")


def test_render_table_color_adds_ansi_codes_only_when_asked() -> None:
    assert "\x1b[" in render_table(make_report(), color=True)
    assert "\x1b[" not in render_table(make_report(), color=False)


def test_empty_report_writers() -> None:
    report = Report((), (), (), make_report().run)
    assert list(story_records(report)) == []
    assert "No story is told by more than one article.\n" in to_markdown(report)
    assert to_dict(report)["summary"]["duplicate_ratio"] == 0.0


def test_write_text_atomic_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    write_text_atomic(target, "mới\n")
    assert target.read_bytes() == "mới\n".encode()
    assert os.listdir(tmp_path) == ["report.md"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_write_text_atomic_gives_the_usual_file_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644  # not the temp file's 0600


def test_write_text_atomic_failure_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")

    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError) as info:
        write_text_atomic(target, "new")
    assert str(info.value) == f"cannot write {target}: Permission denied"
    assert os.listdir(tmp_path) == ["report.json"]
    assert target.read_text(encoding="utf-8") == "old"


def test_write_text_atomic_into_missing_dir_raises(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "report.json"
    with pytest.raises(OutputError, match=r"^cannot write .*report\.json: No such file"):
        write_text_atomic(target, "x")


def test_check_writable_creates_missing_dirs(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    check_writable(out)
    assert out.is_dir()
    assert os.listdir(out) == []


def test_check_writable_rejects_a_file(tmp_path: Path) -> None:
    file = tmp_path / "out"
    file.write_text("", encoding="utf-8")
    with pytest.raises(OutputError, match="it is a file, not a directory"):
        check_writable(file)


def test_check_writable_rejects_a_read_only_dir(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        try:
            (locked / "probe").write_text("", encoding="utf-8")
        except OSError:
            pass
        else:
            pytest.skip("permissions are not enforced here (running as root?)")
        with pytest.raises(OutputError, match=r"^cannot write to .*locked: "):
            check_writable(locked)
    finally:
        locked.chmod(0o700)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux procfs")
def test_check_writable_rejects_a_dir_nobody_can_write() -> None:
    # Unlike chmod, procfs refuses new files even to root, so this runs everywhere on Linux.
    with pytest.raises(OutputError, match=r"^cannot write to /proc/self: "):
        check_writable(Path("/proc/self"))


def test_write_outputs_writes_four_parseable_files(tmp_path: Path) -> None:
    report = make_report()
    out = tmp_path / "out"
    paths = write_outputs(report, out)
    names = ["report.json", "report.md", "stories.jsonl", "report.html"]
    assert [p.name for p in paths] == names
    assert sorted(os.listdir(out)) == sorted(names)
    assert (out / "report.html").read_text(encoding="utf-8") == to_html(report)
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == to_dict(report)
    assert (out / "report.md").read_text(encoding="utf-8") == EXPECTED_MARKDOWN
    lines = (out / "stories.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(story_records(report))


def test_write_outputs_failure_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def second_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OutputError, match=r"report\.md: No space left on device$"):
        write_outputs(make_report(), tmp_path)
    assert os.listdir(tmp_path) == ["report.json"]


def test_a_disk_that_fills_while_writing_the_set_keeps_the_old_set_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_report()
    write_outputs(old, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_fsync = os.fsync
    calls: list[int] = []

    def third_fills_the_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", third_fills_the_disk)
    new = dataclasses.replace(old, stories=old.stories[:1])
    with pytest.raises(OutputError, match=r"stories\.jsonl: No space left on device$"):
        write_outputs(new, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
