"""Hostile input and faults end to end: every bad input at once, random bytes and corpora,
determinism under reordering, interrupted runs, a model that fails to load.

docs/reliability.md is the table of what is tried here and the outcome of each.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedup.clean import clean_corpus
from dedup.cli import app
from dedup.config import Settings
from dedup.errors import InputError
from dedup.pipeline import run
from dedup.read import read_corpus
from dedup.represent.cache import CACHE_FILE

ROOT = Path(__file__).parent.parent
ARTICLES = ROOT / "samples" / "articles"
runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}
MB = 1024 * 1024

GOOD_EN = (
    "Storm Kirk floods Lisbon harbour\n\n"
    "Storm Kirk flooded the harbour of Lisbon on Tuesday, and the port authority closed "
    "the docks until Friday. Mayor Carlos Moedas said 1,200 homes lost power.\n"
)
GOOD_PT = (
    "Tempestade Kirk inunda o porto de Lisboa\n\n"
    "A tempestade Kirk inundou o porto de Lisboa na terça-feira e a autoridade portuária "
    "fechou as docas até sexta-feira. O presidente Carlos Moedas disse que 1.200 casas "
    "ficaram sem luz.\n"
)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env=ENV)


def one_line_error(result: Any) -> str:
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    return str(result.stderr)


def write_bad_inputs(root: Path) -> dict[str, str]:
    """Every bad input of the issue in ``root``; returns file name -> the expected skip reason."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_text("  \n\t\n   \n")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with open(root / "huge.txt", "wb") as handle:
        handle.truncate(100 * MB)  # sparse: 100 MB long, no disk used
    (root / "notobj.json").write_text('"just a string"')
    (root / "notext.csv").write_text("name,count\nLisbon,3\n")
    (root / "nobody.html").write_text("<html><head><title>Nothing here</title></head></html>")
    sub = root / "sub"
    sub.mkdir()
    (sub / "loop").symlink_to("..", target_is_directory=True)
    return {
        "empty.txt": "empty text",
        "blank.txt": "empty text",
        "binary.txt": "binary file",
        "huge.txt": "file is 100 MB, over the maximum size of 1 MB",
        "notobj.json": "JSON value is not an object",
        "notext.csv": "CSV has no text column (columns: name, count)",
        "nobody.html": "no article text found in HTML",
    }


# --- item 1: every bad input at once -------------------------------------------------------


def test_every_bad_input_at_once(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    expected = write_bad_inputs(corpus)
    (corpus / "good_en.txt").write_text(GOOD_EN)
    (corpus / "good_pt.txt").write_text(GOOD_PT)
    # Text in other encodings is read, not skipped.
    (corpus / "utf16.txt").write_bytes("Tin tức Hà Nội\n\nMột đoạn văn ngắn.\n".encode("utf-16-le"))
    (corpus / "latin1.txt").write_bytes(
        "Crème brûlée\n\nDéjà vu, naïve façade.\n".encode("latin-1")
    )
    # UTF-8 cut or spliced: the bad byte is replaced, the rest is not read as mojibake.
    vietnamese = "Tô Lâm tiếp Jensen Huang\n\nHà Nội, ngày 6 tháng 12 năm 2024.\n".encode()
    (corpus / "bad_utf8.txt").write_bytes(vietnamese[:-8] + b"\xff" + vietnamese[-8:])
    (corpus / "records.jsonl").write_text(
        '{"id": "r1", "title": "Record one", "text": "A record."}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"id": "r1", "title": "Record one again", "text": "Same id."}\n'
    )
    (corpus / "quote.csv").write_text(
        'title,text\n"Row title","Row body."\n"broken,"x\n"never","read"\n'
    )
    path = str(corpus)
    expected = {str(corpus / name): reason for name, reason in expected.items()}
    expected |= {
        f"{path}/records.jsonl:2": (
            "invalid JSON (Expecting property name enclosed in double quotes at column 2)"
        ),
        f"{path}/records.jsonl:3": "JSON value is not an object",
        f"{path}/records.jsonl:4": f"duplicate id r1 (first seen at {path}/records.jsonl:1)",
        f"{path}/quote.csv:3": (
            "broken CSV, the rest of the file is not read (',' expected after '\"')"
        ),
    }
    start = time.perf_counter()
    result = invoke("cluster", path, "--backend", "lexical", "--json", "--max-bytes", str(MB))
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {s["origin"]: s["reason"] for s in doc["skipped"]} == expected
    assert len(doc["skipped"]) == len(expected)  # the symlink loop was walked once
    assert result.stderr.startswith(f"Warning: skipped {len(expected)} input(s): ")
    stories = {tuple(sorted(m["id"] for m in story["members"])): story for story in doc["stories"]}
    # The two good articles tell one story in two languages; the rest are read, one each.
    assert sorted(stories) == sorted(
        [
            ("good_en.txt", "good_pt.txt"),
            ("utf16.txt",),
            ("latin1.txt",),
            ("bad_utf8.txt",),
            ("r1",),
            ("quote.csv:2",),
        ]
    )
    assert stories[("good_en.txt", "good_pt.txt")]["cross_language"] is True
    titles = {m["id"]: m["title"] for s in doc["stories"] for m in s["members"]}
    assert titles["utf16.txt"] == "Tin tức Hà Nội"
    assert titles["latin1.txt"] == "Crème brûlée"
    assert titles["bad_utf8.txt"] == "Tô Lâm tiếp Jensen Huang"
    # The 100 MB file is skipped by its size, unread: reading it would take far longer.
    assert elapsed < 20


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD_EN)
    locked = tmp_path / "locked.txt"
    locked.write_text(GOOD_PT)
    locked.chmod(0)
    try:
        result = invoke("cluster", str(tmp_path), "--backend", "lexical", "--json")
    finally:
        locked.chmod(0o644)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == [
        {"origin": str(locked), "reason": "cannot read file: Permission denied"}
    ]


def test_a_corpus_of_bad_inputs_only_is_a_one_line_error(tmp_path: Path) -> None:
    write_bad_inputs(tmp_path)
    result = invoke("cluster", str(tmp_path), "--backend", "lexical", "--max-bytes", str(MB))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert line.startswith("Error: no usable article in the input (7 inputs skipped; first: ")
    assert result.stdout == ""


def test_a_missing_path_is_a_one_line_error_before_reading(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(GOOD_EN)
    missing = str(tmp_path / "nope")
    result = invoke("cluster", str(tmp_path), missing, "--backend", "lexical")
    assert (result.exit_code, one_line_error(result)) == (2, f"Error: path not found: {missing}\n")


# --- item 2: properties --------------------------------------------------------------------

EXTENSIONS = [".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".csv", ""]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=400), st.sampled_from(EXTENSIONS)), max_size=6))
def test_any_bytes_in_any_format_only_input_errors(files: list[tuple[bytes, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n, (data, ext) in enumerate(files):
            Path(tmp, f"f{n}{ext}").write_bytes(data)
        try:
            report = run([tmp], Settings(backend="lexical"))
        except InputError as exc:
            assert str(exc).startswith("no usable article in the input")
            return
    ids = [m.article.id for s in report.stories for m in s.members]
    assert len(ids) == len(set(ids))


RECORD_IDS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", " ", "1"]), st.integers(0, 3))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(RECORD_IDS, st.text(max_size=30)), max_size=5),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_ids_stay_unique_across_a_random_corpus(files: list[list[Any]], twice: bool) -> None:
    """Records with clashing, blank, numeric or missing ids in several files and folders."""
    with tempfile.TemporaryDirectory() as tmp:
        for n, records in enumerate(files):
            lines = [
                json.dumps({"title": f"T{n}.{k}", "text": text} | ({} if i is None else {"id": i}))
                for k, (i, text) in enumerate(records)
            ]
            for folder in ("one", "two"):  # the same relative paths under two inputs
                path = Path(tmp, folder, f"f{n}.jsonl")
                path.parent.mkdir(exist_ok=True)
                path.write_text("\n".join(lines))
            Path(tmp, "one", f"t{n}.txt").write_text(f"Title {n}\n\nBody.\n")
        inputs = [str(Path(tmp, "one")), str(Path(tmp, "two"))]
        articles, skipped = read_corpus(inputs + inputs[:1] if twice else inputs)
    ids = [a.id for a in articles]
    assert len(ids) == len(set(ids))
    assert [a.id for a in clean_corpus(articles, keep_all=True)] == ids
    total = sum(len(r) for r in files) * 2 + len(files)
    again = len(files) * 2 if twice else 0  # every file of "one" again: "same file" skips
    assert len(articles) + len(skipped) == total + again
    reasons = ("duplicate id", "same file", "title only")  # a record with no text is no article
    assert all(any(r in s.reason for r in reasons) for s in skipped)


# --- item 3: determinism -------------------------------------------------------------------


def stable_json(text: str) -> str:
    """The JSON report without what may differ between equal runs: timings, inputs, origins."""
    doc = json.loads(text)
    del doc["run"]["timings"], doc["run"]["inputs"]
    for story in doc["stories"]:
        for member in story["members"]:
            del member["origin"]
    return json.dumps(doc, ensure_ascii=False, indent=2)


def cluster_json(*paths: str) -> str:
    result = invoke("cluster", *paths, "--backend", "lexical", "--json")
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def test_samples_copied_in_another_order_give_identical_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = sorted(p.name for p in ARTICLES.iterdir())
    outputs = []
    for where, order in (("a", names), ("b", names[::-1])):
        target = tmp_path / where / "articles"
        target.mkdir(parents=True)
        for name in order:  # created in another order: another order on disk
            shutil.copy(ARTICLES / name, target / name)
        monkeypatch.chdir(tmp_path / where)
        outputs.append(cluster_json("articles"))
    # Relative paths as given: origins match too, so only timings are left out.
    first, second = (json.loads(o) for o in outputs)
    for doc in (first, second):
        del doc["run"]["timings"]
    assert first == second
    assert first["summary"]["articles"] == 5


STORY_PEOPLE = ["Anna Keller", "Tomas Novak", "Lucia Ferreira", "Jonas Berg", "Marta Rossi"]
STORY_PLACES = ["Lisbon", "Hanoi", "Berlin", "Madrid", "Oslo", "Prague", "Dublin", "Vienna"]
STORY_THINGS = ["bridge", "hospital", "railway", "airport", "harbour", "stadium", "museum"]
FUNCTION_WORDS = {
    "en": "the of and in to with for on",
    "de": "der die und in zu mit für auf",
    "es": "el la y en de con para sobre",
    "fr": "le la et dans de avec pour sur",
    "vi": "của và trong với cho trên các những",
}


def synthetic_corpus(stories: int, per_story: int = 5) -> list[dict[str, str]]:
    """Stories that share names, places and numbers across languages' function words."""
    langs = list(FUNCTION_WORDS)
    records = []
    for s in range(stories):
        rng = random.Random(s)
        person, other = rng.sample(STORY_PEOPLE, 2)
        place, thing = rng.choice(STORY_PLACES), rng.choice(STORY_THINGS)
        big, small = rng.randint(100, 9999), rng.randint(10, 99)
        for k in range(per_story):
            lang = langs[k % len(langs)]
            w = FUNCTION_WORDS[lang].split()
            body = [
                f"{person} {w[1]} {place} {w[3]} {thing} {big} {w[k % 8]} {other} {small}.",
                f"{w[4]} {other} {w[5]} {thing} {place} {w[6]} {small} {big} {w[7]}.",
                f"Project{s} code{s}x {person.split()[1]} {other.split()[1]} {w[0]} {place}.",
            ]
            records.append(
                {
                    "id": f"s{s:03d}-{k}",
                    "title": f"{place} {thing} {big} {person} {w[0]} {w[2]}",
                    "text": "\n\n".join(body),
                    "lang": lang,
                    "published": f"2024-0{1 + s % 9}-1{k}",
                    "source": f"outlet{k}.example",
                }
            )
    return records


def write_jsonl(path: Path, records: list[dict[str, str]]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return str(path)


@pytest.mark.parametrize("stories", [2, 60], ids=["small", "300-articles"])
def test_shuffled_and_split_corpus_gives_identical_json(tmp_path: Path, stories: int) -> None:
    records = synthetic_corpus(stories)
    whole = stable_json(cluster_json(write_jsonl(tmp_path / "all.jsonl", records)))
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    one_file = write_jsonl(tmp_path / "shuffled.jsonl", shuffled)
    third = len(shuffled) // 3
    parts = [shuffled[:third], shuffled[third : 2 * third], shuffled[2 * third :]]
    split = [write_jsonl(tmp_path / f"part{n}.jsonl", part) for n, part in enumerate(parts)]
    assert stable_json(cluster_json(one_file)) == whole
    assert stable_json(cluster_json(*split[::-1])) == whole
    doc = json.loads(whole)
    assert doc["summary"]["articles"] == len(records)
    # Every article in a story told in several languages. (Stories of the same people, place
    # and week may be one: publication dates a few days apart no longer keep them apart.)
    crossing = [s for s in doc["stories"] if len(s["languages"]) > 1]
    assert sum(len(s["members"]) for s in crossing) == len(records)
    assert len(crossing) >= stories // 3


# --- item 4: faults ------------------------------------------------------------------------


def start_cluster(corpus: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dedup", "cluster", corpus, "-b", "lexical", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
        # A shell's background job ignores SIGINT, and nohup SIGHUP; a child would inherit
        # that, as a user's run in a terminal does not.
        preexec_fn=_default_signals,
    )


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> str:
    """About 2,000 articles: a few seconds of work for the lexical backend."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    return write_jsonl(path, synthetic_corpus(400))


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_interrupted_run_leaves_no_partial_report(
    big_corpus: str, tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    proc = start_cluster(big_corpus, out)
    # Wait until the work has begun (the output directory is checked first), then a bit more.
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert proc.poll() is None, "the run ended before the signal: make the corpus bigger"
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr, stdout) == (code, b"Error: interrupted\n", b"")
    assert list(out.iterdir()) == []  # no report, no temporary file
    if signum == signal.SIGINT:  # the next run completes in the same directory
        rerun = start_cluster(big_corpus, out)
        _, stderr = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, stderr
        assert sorted(p.name for p in out.iterdir()) == [
            "report.html",
            "report.json",
            "report.md",
            "stories.jsonl",
        ]
        doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
        assert doc["summary"]["articles"] == 2000


SWALLOWED = """
import signal, time, typer
from dedup.cli.shell import OneLineErrors

app = typer.Typer(cls=OneLineErrors)


@app.command()
def work() -> None:
    class Collected:
        def __del__(self) -> None:  # the signal comes while Python cannot raise it
            signal.raise_signal(signal.%s)
            sum(range(10))

    Collected()
    for _ in range(200):
        time.sleep(0.01)
    print("finished")


@app.command()
def other() -> None:  # a second command makes a group, as dedup's own
    pass


app()
"""


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_that_comes_inside_a_finaliser_still_stops_the_run(
    tmp_path: Path, name: str, code: int
) -> None:
    """A signal whose handler runs inside a ``__del__`` (or a weakref callback, such as a
    thread pool's) cannot raise there: the run must still stop, not finish with exit 0."""
    script = tmp_path / "work.py"
    script.write_text(SWALLOWED % name, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), "work"],
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, **ENV},
        preexec_fn=_default_signals,
        timeout=60,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (code, b"Error: interrupted\n", b"")


def test_interrupted_run_leaves_a_cache_the_next_run_uses(
    big_corpus: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    db = cache / CACHE_FILE
    dense = ["-b", "dense", "-m", str(tiny_model_dir), "--json"]

    def start(*extra: str) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "dedup", "cluster", big_corpus, *dense, *extra]
        return subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **ENV},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def stored() -> int:
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
            except sqlite3.OperationalError:  # the table is not there yet
                return 0

    proc = start("--cache", str(cache))
    deadline = time.monotonic() + 120
    while stored() == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the signal: make the corpus bigger"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (130, b"Error: interrupted\n")
    kept = stored()
    assert 0 < kept < 2000
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    rerun = start("--cache", str(cache), "-v")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    found = re.search(rb"(\d+) of 2000 articles found, (\d+) to embed", err)
    assert found is not None, err.decode()
    assert int(found.group(1)) >= kept and int(found.group(2)) <= 2000 - kept
    assert stored() == 2000
    fresh = start("--no-cache")
    expected, err = fresh.communicate(timeout=300)
    assert fresh.returncode == 0, err.decode()
    assert stable_json(out.decode()) == stable_json(expected.decode())


def test_corrupt_model_config_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    result = invoke("cluster", str(ARTICLES), "--backend", "dense", "--model", str(tmp_path))
    assert result.exit_code == 1
    assert one_line_error(result).startswith(f"Error: cannot load model {tmp_path}: ")


def test_corrupt_model_weights_are_a_one_line_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])  # a download cut short
    result = invoke("cluster", str(ARTICLES), "--backend", "dense", "--model", str(model))
    assert result.exit_code == 1
    assert one_line_error(result).startswith(f"Error: cannot load model {model}: ")
