"""Hostile input, round three: what dedup writes. No output replaces the story store, the
embedding cache, a device, a FIFO or a link; no target is read that is not a regular file;
dedup's own reports are never read as articles; ``--json`` follows the filters (in
test_filters.py). docs/reliability.md, "Round three: outputs", lists them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import Settings
from dedup.pipeline import run
from dedup.read.own import HEAD_BYTES, own_document, own_file
from dedup.report.outputs import write_text_atomic, written_through

runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}
TEXTS = {
    "a.txt": "Quake hits Tokyo\n\nA strong earthquake hit Tokyo on Monday, officials said.\n",
    "b.txt": "Earthquake strikes Tokyo\n\nA strong quake struck Tokyo Monday, officials said.\n",
    "c.txt": "Election in France\n\nVoters in France went to the polls on Sunday.\n",
}


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env=ENV)


def _dedup(*args: str, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dedup", *args],
        text=True,
        timeout=120,  # a run that blocks on its own pipe fails, not hangs the suite
        env={**os.environ, **ENV},
        **popen,
    )


def _page_to(
    corpus: Path, target: Path, *more: str, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """`dedup cluster CORPUS --backend lexical --html TARGET -q`, and ``more`` options."""
    return _dedup(
        "cluster", str(corpus), "--backend", "lexical", "--html", str(target), *more, "-q", **popen
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, "utf-8")
    return folder


@pytest.fixture
def store(corpus: Path) -> Path:
    path = corpus.parent / "st.db"
    result = invoke("cluster", str(corpus), "--backend", "lexical", "--store", str(path), "-q")
    assert result.exit_code == 0, result.output
    return path


def _store_is_whole(path: Path) -> None:
    result = invoke("report", "--store", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["articles"] == 3


# ---------------------------------------------------------------------------------------------
# Finding 1: the store and the embedding cache are never an output


@pytest.mark.parametrize("flag", ["--representatives", "--html"])
@pytest.mark.parametrize("end", ["", "-wal"])
def test_the_store_is_never_an_output(corpus: Path, store: Path, flag: str, end: str) -> None:
    target = f"{store}{end}"
    what = "the story store (--store)" if not end else f"the journal of the story store {store}"
    message = (
        f"Error: Invalid value for {flag}: {target} is {what}, never an output: name another file\n"
    )
    cluster = invoke(
        "cluster", str(corpus), "--backend", "lexical", "--store", str(store), flag, target
    )
    assert (cluster.exit_code, cluster.stderr) == (2, message)
    if flag == "--html":  # report, a read-only command, writes no --representatives
        report = invoke("report", "--store", str(store), flag, target)
        assert (report.exit_code, report.stderr) == (2, message)
    _store_is_whole(store)


def test_the_store_is_never_an_output_by_any_name(corpus: Path, store: Path) -> None:
    # The --out set holds a file of the store's name; a hard link is the same file.
    (corpus.parent / "report.json").unlink(missing_ok=True)
    os.rename(store, corpus.parent / "report.json")
    moved = corpus.parent / "report.json"
    result = invoke("report", "--store", str(moved), "--out", str(corpus.parent))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: Invalid value for --out: {moved} is the story store")
    os.link(moved, corpus.parent / "hard.db")
    result = invoke("report", "--store", str(moved), "--html", str(corpus.parent / "hard.db"))
    assert result.exit_code == 2 and "is the story store (--store)" in result.stderr
    _store_is_whole(moved)


def test_standard_output_into_the_store_is_refused(store: Path) -> None:
    with open(store, "ab") as handle:  # `dedup report --store st.db --json >> st.db`
        result = _dedup(
            "report", "--store", str(store), "--json", stdout=handle, stderr=subprocess.PIPE
        )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: standard output is the story store (--store): send the report elsewhere\n"
    )
    _store_is_whole(store)


def test_the_embedding_cache_is_never_an_output(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    database = cache / "embeddings-v1.sqlite3"
    database.write_bytes(b"SQLite format 3\x00")
    args = ["cluster", str(corpus), "--backend", "lexical", "--cache", str(cache)]
    result = invoke(*args, "--representatives", str(database))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Invalid value for --representatives: {database} is the embedding cache,"
        " never an output: name another file\n"
    )
    assert database.read_bytes() == b"SQLite format 3\x00"
    result = invoke(*args, "--out", str(cache / "models" / "report"))
    assert result.exit_code == 2
    assert f"is in dedup's cache folder {cache / 'models'}, never an output" in result.stderr
    assert not (cache / "models").exists()
    # The default cache (DEDUP_CACHE_DIR) holds the converted models whatever --cache says.
    result = runner.invoke(
        app,
        ["cluster", str(corpus), "--backend", "lexical", "--no-cache", "--html", str(database)],
        env={**ENV, "DEDUP_CACHE_DIR": str(cache)},
    )
    assert result.exit_code == 2 and "is the embedding cache" in result.stderr
    # Anything else in a cache directory is the user's: DEDUP_CACHE_DIR=. stays usable.
    result = invoke(*args, "--html", str(cache / "page.html"), "-q")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------------------------
# Findings 3 and 4: devices, FIFOs and links are written through, never replaced nor read


def _device(path: Path) -> Path:
    """A character device like /dev/null at ``path`` (root only)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def test_a_device_or_a_link_to_one_is_written_through(corpus: Path, tmp_path: Path) -> None:
    node = _device(tmp_path / "null")
    link = tmp_path / "to-null"
    link.symlink_to(node)
    for flag, target in (("--representatives", node), ("--html", link), ("--out", tmp_path)):
        if flag == "--out":  # a member of the set that is a device: the others still renamed
            (tmp_path / "report.md").symlink_to(node)
        result = invoke("cluster", str(corpus), "--backend", "lexical", flag, str(target), "-q")
        assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert os.readlink(link) == str(node)
    assert os.readlink(tmp_path / "report.md") == str(node)
    assert json.loads((tmp_path / "report.json").read_text("utf-8"))["summary"]["articles"] == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_link_to_a_regular_file_keeps_the_link_and_replaces_its_file(tmp_path: Path) -> None:
    real = tmp_path / "real.html"
    real.write_text("old", "utf-8")
    link = tmp_path / "page.html"
    link.symlink_to("real.html")
    assert not written_through(link)
    write_text_atomic(link, "new")
    assert os.readlink(link) == "real.html" and real.read_text("utf-8") == "new"
    dangling = tmp_path / "later.html"
    dangling.symlink_to("made.html")
    write_text_atomic(dangling, "made")
    assert os.readlink(dangling) == "made.html"
    assert (tmp_path / "made.html").read_text("utf-8") == "made"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "later.html",
        "made.html",
        "page.html",
        "real.html",
    ]


def test_a_fifo_is_written_through_and_never_read(corpus: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()  # reads until the run closes its end
    result = _page_to(corpus, fifo, capture_output=True)
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].startswith(b"<!doctype html>")


def test_a_link_to_standard_output_is_written_through_it(corpus: Path, tmp_path: Path) -> None:
    """``--html /dev/stdout | cat`` and ``> page.html``, with a link of our own to
    /proc/self/fd/1 (what /dev/stdout is): were a hang, and the link replaced by a file."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd here")
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    piped = _page_to(corpus, link, capture_output=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("<!doctype html>")
    assert "Election in France" in piped.stdout.split("</html>")[-1]  # the table follows
    page = tmp_path / "page.html"
    with open(page, "wb") as handle:
        redirected = _page_to(corpus, link, "--json", stdout=handle, stderr=subprocess.PIPE)
    assert redirected.returncode == 0, redirected.stderr
    assert os.readlink(link) == "/proc/self/fd/1"
    html, _, rest = page.read_text("utf-8").partition("</html>\n")
    assert html.startswith("<!doctype html>")
    assert json.loads(rest)["summary"]["articles"] == 3  # after the page, not over it


# ---------------------------------------------------------------------------------------------
# Finding 8: dedup's own files are never read as articles, wherever they are


def test_every_file_dedup_writes_is_known_as_its_own(tmp_path: Path) -> None:
    from dedup.report.document import to_dict, to_jsonl
    from dedup.report.html import to_html
    from dedup.report.markdown import to_markdown
    from dedup.report.representatives import to_representatives

    samples = str(Path(__file__).parent.parent / "samples" / "articles")
    report = run([samples], Settings(backend="lexical"))
    heads = {
        "html": to_html(report),
        "markdown": to_markdown(report),
        "stories": to_jsonl(report),
        "representatives": to_representatives(report),
    }
    for kind, text in heads.items():
        assert own_file(text.encode("utf-8")[:HEAD_BYTES]) == kind
    assert own_document(to_dict(report))
    for article in Path(samples).iterdir():
        assert own_file(article.read_bytes()[:HEAD_BYTES]) is None
    assert own_file(b"# dedup report\n\nWhat our team learnt this week.\n") is None
    assert not own_document({"articles": [], "run": 1})


def test_old_reports_in_a_folder_are_recorded_skips_not_articles(corpus: Path) -> None:
    old = corpus / "old-report"
    first = invoke(
        "cluster",
        str(corpus),
        "--backend",
        "lexical",
        "--out",
        str(old),
        "--html",
        str(corpus / "page.html"),
        "--representatives",
        str(corpus / "deduped.jsonl"),
        "-q",
    )
    assert first.exit_code == 0, first.output
    result = invoke("cluster", str(corpus), "--backend", "lexical", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["articles"] == 3
    assert {s["origin"]: s["reason"] for s in doc["skipped"]} == {
        f"{corpus}/deduped.jsonl": "a deduplicated corpus dedup wrote: read when named, not in"
        " a folder",
        f"{corpus}/old-report/report.html": "a report dedup wrote (HTML), not an article",
        f"{corpus}/old-report/report.json": "a report dedup wrote (JSON), not articles",
        f"{corpus}/old-report/report.md": "a report dedup wrote (Markdown), not an article",
        f"{corpus}/old-report/stories.jsonl": "stories dedup wrote (stories.jsonl), not articles",
        f"{corpus}/page.html": "a report dedup wrote (HTML), not an article",
    }
    # The deduplicated corpus is meant to be read again: named, it is.
    named = invoke("cluster", str(corpus / "deduped.jsonl"), "--backend", "lexical", "--json")
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["summary"]["articles"] == 2


def test_pieces_are_written_in_chunks_as_each_would_be_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON encoder's many small pieces are joined before they are encoded: the bytes are
    those of each piece encoded alone, lone surrogates shown, even where a chunk ends between
    the two halves of a pair that was never whole."""
    from dedup.report import outputs

    pieces = ["{", '"a": "x\udc80', "\ud83d", "\ude00", '"}', "", "é" * 7, "\n"]
    want = b"".join(p.encode("utf-8", errors="backslashreplace") for p in pieces)
    monkeypatch.setattr(outputs, "CHUNK_CHARS", 3)
    chunks = list(outputs._encoded(pieces))
    assert len(chunks) > 2 and b"".join(chunks) == want
    target = tmp_path / "report.json"
    staged = outputs._stage(target, iter(pieces))
    assert staged is not None
    outputs._commit([staged])
    assert target.read_bytes() == want
