"""Hostile input, round three, for the story store: ids that last across runs, dates from the
future, read-only and damaged stores, foreign files, removing articles. Through the CLI with
the lexical backend; docs/reliability.md ("Round three: the story store") lists them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1", "DEDUP_CACHE_DIR": ""}

DAY1 = [
    {"title": "Flood hits Porto", "text": "Heavy rain flooded the old town of Porto on Monday."},
    {"title": "Election in Chile", "text": "Chile votes for a new president in a tight race."},
]
DAY2 = [
    {"title": "Volcano erupts in Iceland", "text": "A volcano erupted near Grindavik overnight."},
    {"title": "Strike at Ford plant", "text": "Workers at the Ford plant in Cologne walked out."},
]


def jsonl(records: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def dedup(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args], input=stdin, env=ENV)


def add(store: Path, records: list[dict[str, str]], *args: str):  # type: ignore[no-untyped-def]
    return dedup(
        "cluster", "-", "--store", str(store), "--backend", "lexical", *args, stdin=jsonl(records)
    )


def stored_ids(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return sorted(row[0] for row in conn.execute("SELECT id FROM articles"))


def made_store(tmp_path: Path) -> Path:
    store = tmp_path / "s.db"
    result = add(store, DAY1 + DAY2)
    assert result.exit_code == 0, result.output
    return store


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.close()
    before = other.read_bytes()
    result = add(other, DAY1)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {other} is not a dedup story store (no meta table)\n"
    assert other.read_bytes() == before  # still a rollback-journal database: no WAL switch
    assert [p.name for p in tmp_path.iterdir()] == ["other.sqlite"]  # no -wal, no -shm
    wal = tmp_path / "wal" / "app.sqlite"  # a database in WAL mode, closed cleanly
    wal.parent.mkdir()
    with sqlite3.connect(wal) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE notes (x TEXT)")
    conn.close()
    before = wal.read_bytes()
    assert add(wal, DAY1).exit_code == 1
    assert wal.read_bytes() == before and [p.name for p in wal.parent.iterdir()] == [wal.name]
    text = tmp_path / "notes.db"
    text.write_text("not a database " * 100)
    result = dedup("report", "--store", str(text))
    assert result.stderr == f"Error: {text} is not a dedup story store (not an SQLite database)\n"


def _damage(store: Path, how: str) -> None:
    if how == "page":  # one data page of the articles table overwritten
        with sqlite3.connect(store) as conn:
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            (root,) = conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE name = 'articles'"
            ).fetchone()
        conn.close()
        with store.open("r+b") as handle:
            handle.seek((root - 1) * size)
            handle.write(b"\xde\xad" * (size // 2))
        return
    sql = {
        "table": "DROP TABLE story_runs",
        "next-deleted": "DELETE FROM meta WHERE key = 'next_story'",
        "next-garbled": "UPDATE meta SET value = 'x7' WHERE key = 'next_story'",
        "cut-json": "UPDATE articles SET cleaned = substr(cleaned, 1, 20)",
        "json-type": "UPDATE articles SET cleaned = '[1, 2]'",
        "json-key": 'UPDATE articles SET cleaned = \'{"title": "t"}\'',
        "json-value": "UPDATE articles SET cleaned = json_set(cleaned, '$.published', 'June')",
    }[how]
    with sqlite3.connect(store) as conn:
        conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    "how",
    [
        "page",
        "table",
        "next-deleted",
        "next-garbled",
        "cut-json",
        "json-type",
        "json-key",
        "json-value",
    ],
)
def test_a_damaged_store_is_the_stores_own_one_line_error(tmp_path: Path, how: str) -> None:
    store = made_store(tmp_path)
    _damage(store, how)
    results = [dedup("report", "--store", str(store)), add(store, [DAY1[0] | {"title": "New"}])]
    reading_only_next = how.startswith("next")  # a report never needs the next story number
    for result in results[reading_only_next:]:
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: store {store} is broken ("), result.stderr
        assert result.stderr.endswith(
            "): restore it from a backup, or start a new store (name another file)\n"
        )
        assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr


def _read_only_mount(folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")


def test_a_store_on_read_only_media_is_reported_and_refused_for_writing(tmp_path: Path) -> None:
    store = made_store(tmp_path)
    before = dedup("report", "--store", str(store), "--json")
    media = tmp_path / "media"
    media.mkdir()
    _read_only_mount(media)
    try:
        (media / "s.db").write_bytes(store.read_bytes())  # closed cleanly: no -wal to copy
        subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True)
        on_media = media / "s.db"
        report = dedup("report", "--store", str(on_media), "--json")
        assert report.exit_code == 0, report.stderr
        assert json.loads(report.stdout)["stories"] == json.loads(before.stdout)["stories"]
        result = add(on_media, DAY2)
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: store {on_media} is read-only: adding or removing articles writes it; copy it"
            " somewhere writable (reporting it only reads it)\n"
        )
        removal = dedup("store", "remove", "--store", str(on_media), "x")
        assert removal.exit_code == 1 and "is read-only" in removal.stderr
        assert sorted(p.name for p in media.iterdir()) == ["s.db"]
    finally:
        subprocess.run(["umount", str(media)], check=True)


def test_a_read_only_store_file_is_reported_and_refused_for_writing(tmp_path: Path) -> None:
    store = made_store(tmp_path)
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    store.chmod(0o444)
    if os.access(store, os.W_OK):
        pytest.skip("root may write a read-only file: see the read-only media test")
    assert dedup("report", "--store", str(store)).exit_code == 0
    result = add(store, DAY2)
    assert result.exit_code == 1 and "is read-only" in result.stderr
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest


def test_two_feeds_on_stdin_without_ids_keep_every_article(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    linked = {**DAY2[1], "url": "https://example.com/ford"}
    for day in (DAY1, [DAY2[0], linked]):
        result = add(store, day)
        assert result.exit_code == 0, result.stderr
        assert "changed since it was stored" not in result.stderr
    ids = stored_ids(store)
    assert len(ids) == 4
    assert "https://example.com/ford" in ids  # a URL is the id
    content = [i for i in ids if i.startswith("sha256:")]
    assert len(content) == 3 and all(len(i) == len("sha256:") + 24 for i in content)
    again = add(store, DAY1)  # the same feed again: the same ids, nothing added
    assert again.exit_code == 0
    assert "2 article(s) already in the store with the same text" in again.stderr
    assert stored_ids(store) == ids
    # Without a store, ids still say where a record was.
    batch = dedup("cluster", "-", "--backend", "lexical", "--json", stdin=jsonl(DAY1))
    members = [m["id"] for s in json.loads(batch.stdout)["stories"] for m in s["members"]]
    assert sorted(members) == ["stdin:1", "stdin:2"]


FLOOD = (
    "Heavy rain flooded the old town of Porto on Monday, and the Douro burst its banks near"
    " the Ribeira quarter. Firefighters rescued forty residents, officials in Porto said."
)


def test_a_date_after_today_is_no_published_date_and_moves_no_story_day(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    first = [
        {"id": "flood-1", "title": "Flood hits Porto", "text": FLOOD, "published": "2024-10-01"},
        {"id": "typo", **DAY1[1], "published": "2204-10-01"},
        {"id": "typo-2", **DAY2[0], "published": "2204-10-02"},
    ]
    result = add(store, first, "--json")
    assert result.exit_code == 0, result.stderr
    warning = (
        "Warning: 2 article(s) dated after today, which is no publication date: left undated"
        " (first: typo, 2204-10-01)\n"
    )
    assert result.stderr.count("Warning: ") == 1 and warning in result.stderr
    members = {m["id"]: m for s in json.loads(result.stdout)["stories"] for m in s["members"]}
    assert members["typo"]["published"] is None
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT day FROM runs").fetchall() == [(739160,)]  # 2024-10-01
        (cleaned,) = conn.execute("SELECT cleaned FROM articles WHERE id = 'typo'").fetchone()
    meta = json.loads(cleaned)
    assert meta["meta"]["published_raw"] == "2204-10-01"
    # The next day's article of the open story joins it (it used to start a new story).
    later = {"id": "flood-2", "title": "Porto floods", "text": FLOOD, "published": "2024-10-02"}
    result = add(store, [later], "--json")
    stories = json.loads(result.stdout)["stories"]
    assert [(s["id"], s["status"], s["size"]) for s in stories] == [("S000001", "grown", 2)]
    # A batch run warns the same way; a date a day ahead (a time zone) is kept.
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    batch = dedup(
        "cluster",
        "-",
        "--backend",
        "lexical",
        "--json",
        stdin=jsonl([first[1], {**DAY2[1], "published": tomorrow}]),
    )
    assert batch.stderr == warning.replace("2 article(s)", "1 article(s)")
    dates = sorted(
        str(m["published"]) for s in json.loads(batch.stdout)["stories"] for m in s["members"]
    )
    assert dates == sorted(["None", tomorrow])


def _stories(store: Path, *args: str) -> dict[str, dict[str, object]]:
    result = dedup("report", "--store", str(store), "--json", *args)
    assert result.exit_code == 0, result.stderr
    return {s["id"]: s for s in json.loads(result.stdout)["stories"]}


def _rows(store: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(store) as conn:
        return [
            (table, *row)
            for table in ("meta", "runs", "stories", "story_runs", "articles")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
        ]


def test_store_remove_takes_articles_out_and_fixes_their_stories(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    flood = [
        {"title": f"Flood hits Porto {k}", "text": FLOOD + " " + extra}
        for k, extra in enumerate(["Schools closed.", "Trains stopped.", "Power failed."])
    ]
    assert add(store, [*flood, *DAY1[1:], *DAY2]).exit_code == 0
    before = _stories(store)
    big = next(s for s in before.values() if s["size"] == 3)
    one = next(s for s in before.values() if s["size"] == 1)
    members = [m["id"] for m in big["members"]]  # type: ignore[index]
    only = one["members"][0]["id"]  # type: ignore[index]
    rows = _rows(store)
    refused = dedup("store", "remove", "--store", str(store), members[0], "not-there")
    assert refused.exit_code == 2
    assert refused.stderr == f"Error: no article 'not-there' in store {store}: nothing removed\n"
    assert _rows(store) == rows
    # The most central flood article and a story's only article.
    result = dedup("store", "remove", "--store", str(store), members[0], only)
    assert result.exit_code == 0, result.stderr
    said = sorted([f"{big['id']} has 2 left", f"{one['id']} is gone"])
    assert result.stderr == f"Removed 2 article(s) from {store}: {', '.join(said)}\n"
    after = _stories(store)
    assert one["id"] not in after and len(after) == len(before) - 1
    left = after[big["id"]]  # type: ignore[index]
    assert [m["id"] for m in left["members"]] == members[1:]  # type: ignore[index]
    assert left["status"] == "revised" and left["size"] == 2 and left.get("cohesion") is None
    assert left["headline"] == left["members"][0]["title"]  # type: ignore[index]
    assert list(_stories(store, "--changed")) == [big["id"]]
    with sqlite3.connect(store) as conn:
        assert conn.execute(
            "SELECT count(*) FROM stories WHERE id = ?", (int(one["id"][1:]),)
        ).fetchone() == (0,)  # type: ignore[index]
    # The next run that loads the story measures it again on what is left.
    other = {"title": "Tennis final in Paris", "text": "Two players meet in the final today."}
    assert add(store, [other]).exit_code == 0
    again = _stories(store)[big["id"]]  # type: ignore[index]
    assert again["size"] == 2 and again["status"] == "unchanged"
    assert again["cohesion"]["min"] > 0.5  # type: ignore[index]
    gone = dedup("store", "remove", "--store", str(store), members[0])
    assert gone.exit_code == 2 and "nothing removed" in gone.stderr


def test_store_remove_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dedup.store import Store, remove

    store = made_store(tmp_path)
    rows = _rows(store)

    def fail(*args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(remove, "_record", fail)
    with Store(store) as opened, pytest.raises(OSError):
        remove.remove_articles(opened, stored_ids(store)[:2])
    assert _rows(store) == rows
