"""The embedding cache: a rerun embeds nothing, new articles alone are embedded, a shared or
broken cache never changes the result."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import Settings
from dedup.models import Article
from dedup.pipeline import cluster_articles
from dedup.represent.cache import CACHE_FILE, SLICE, EmbeddingCache, embed_cached
from dedup.represent.encoder import embed_articles
from dedup.represent.fingerprint import article_keys
from tests.conftest import FakeEncoder

ROOT = Path(__file__).parent.parent


class CountingEncoder(FakeEncoder):
    """A FakeEncoder that remembers how many texts it was asked to encode."""

    def __init__(self, seed: int = 0, name: str = "fake-hash-64") -> None:
        super().__init__(seed)
        self.name = name
        self.encoded = 0

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]:
        self.encoded += len(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)


def corpus(n: int, start: int = 0) -> list[Article]:
    return [
        Article(
            id=f"a{k}",
            title=f"Story {k % 7} headline {k}",
            text=f"Body of article {k} about story {k % 7}, with words w{k} and v{k % 3}.",
            lang="en",
        )
        for k in range(start, start + n)
    ]


def test_a_rerun_embeds_nothing_and_gives_the_same_vectors(tmp_path: Path) -> None:
    articles = corpus(40)
    first = CountingEncoder()
    a = embed_cached(first, articles, tmp_path).vectors
    assert first.encoded == 40
    again = CountingEncoder()
    b = embed_cached(again, articles, tmp_path).vectors
    assert again.encoded == 0
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, embed_articles(CountingEncoder(), articles), atol=1e-6)


def test_only_new_articles_are_embedded(tmp_path: Path) -> None:
    old, new = corpus(90), corpus(10, start=90)
    embed_cached(CountingEncoder(), old, tmp_path)
    enc = CountingEncoder()
    mixed = new[:5] + old + new[5:]
    vectors = embed_cached(enc, mixed, tmp_path).vectors
    assert enc.encoded == 10
    np.testing.assert_allclose(vectors, embed_articles(CountingEncoder(), mixed), atol=1e-6)


def test_another_model_or_another_text_is_another_key(tmp_path: Path) -> None:
    articles = corpus(5)
    embed_cached(CountingEncoder(), articles, tmp_path)
    other = CountingEncoder(seed=1, name="another-model")
    embed_cached(other, articles, tmp_path)
    assert other.encoded == 5
    edited = [dataclasses.replace(articles[0], text=articles[0].text + " Updated.")]
    enc = CountingEncoder()
    embed_cached(enc, edited, tmp_path)
    assert enc.encoded == 1
    keys = article_keys(CountingEncoder(), articles)
    assert len(set(keys)) == 5 and all(len(k) == 32 for k in keys)


def test_a_text_seen_twice_is_embedded_once(tmp_path: Path) -> None:
    one = corpus(1)[0]
    twin = dataclasses.replace(one, id="twin")
    enc = CountingEncoder()
    vectors = embed_cached(enc, [one, twin], tmp_path).vectors
    assert enc.encoded == 1
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0)


def test_vectors_are_committed_a_slice_at_a_time(tmp_path: Path) -> None:
    articles = corpus(SLICE + 3)

    class FailsLate(CountingEncoder):
        def encode(
            self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
        ) -> NDArray[np.float32]:
            if self.encoded >= SLICE:
                raise KeyboardInterrupt
            return super().encode(texts, batch_size=batch_size, progress=progress)

    with pytest.raises(KeyboardInterrupt):
        embed_cached(FailsLate(), articles, tmp_path)
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == SLICE  # the first slice survived, the one in flight did not
    enc = CountingEncoder()
    embed_cached(enc, articles, tmp_path)
    assert enc.encoded == 3


def test_a_corrupt_cache_file_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_bytes(b"this is not a database" * 100)
    articles = corpus(3)
    embedded = embed_cached(CountingEncoder(), articles, tmp_path)
    vectors, notes = embedded.vectors, embedded.warnings
    np.testing.assert_allclose(vectors, embed_articles(CountingEncoder(), articles), atol=1e-6)
    assert len(notes) == 1 and "embedding cache unusable" in notes[0], notes
    assert "not a database" in notes[0]


def test_a_cache_directory_that_cannot_be_made_is_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    notes = embed_cached(CountingEncoder(), corpus(2), blocker / "cache").warnings
    assert len(notes) == 1 and f"cannot open {blocker / 'cache' / CACHE_FILE}" in notes[0]


def test_a_stored_vector_of_the_wrong_size_is_embedded_again(tmp_path: Path) -> None:
    articles = corpus(2)
    keys = article_keys(CountingEncoder(), articles)
    with EmbeddingCache(tmp_path) as cache:
        cache.put(keys[:1], np.ones((1, 3), dtype=np.float32))  # not 64 wide
    enc = CountingEncoder()
    embed_cached(enc, articles, tmp_path)
    assert enc.encoded == 2


def test_the_pipeline_reports_the_same_stories_from_the_cache(tmp_path: Path) -> None:
    articles = corpus(30)
    settings = Settings(backend="dense", threshold=0.6, cache=tmp_path)
    first = cluster_articles(articles, settings, encoder=CountingEncoder())
    enc = CountingEncoder()
    second = cluster_articles(articles, settings, encoder=enc)
    assert enc.encoded == 0
    assert first.stories == second.stories
    uncached = CountingEncoder()
    cluster_articles(articles, dataclasses.replace(settings, cache=None), encoder=uncached)
    assert uncached.encoded == 30
    # Nothing written but the bundled model conftest links in, as a first run converts it.
    user_cache = Path(os.environ["XDG_CACHE_HOME"]) / "dedup"
    assert [p.name for p in user_cache.glob("*")] in ([], ["models"])
    assert all(p.is_symlink() for p in (user_cache / "models").glob("*"))


def rows_in(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])


def test_cli_cache_options(
    tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dedup.represent.cache")
    samples = str(ROOT / "samples" / "articles")
    base = ["cluster", samples, "-b", "dense", "-m", str(tiny_model_dir), "--json"]
    moved = tmp_path / "moved"

    def cli(*extra: str) -> Any:
        result = CliRunner().invoke(app, [*base, *extra], env={"HF_HUB_OFFLINE": "1"})
        assert result.exit_code == 0, result.stderr
        return result

    first = cli("--cache", str(moved))
    assert rows_in(moved / CACHE_FILE) == 5
    assert "0 of 5 articles found, 5 to embed" in caplog.text
    caplog.clear()
    second = cli("--cache", str(moved))
    assert "all 5 articles found; the model is not loaded" in caplog.text
    assert json.loads(second.stdout)["stories"] == json.loads(first.stdout)["stories"]
    default = Path(os.environ["XDG_CACHE_HOME"]) / "dedup" / CACHE_FILE
    cli("--no-cache")
    assert not default.exists()
    cli()
    assert rows_in(default) == 5
    both = CliRunner().invoke(app, [*base, "--no-cache", "--cache", str(moved)])
    assert both.exit_code == 2 and "give --cache DIR or --no-cache, not both" in both.stderr


def test_two_runs_sharing_a_cache_both_finish(tiny_model_dir: Path, tmp_path: Path) -> None:
    records = [
        {"id": f"r{k}", "title": f"Headline {k}", "text": f"Text {k} about topic {k % 9}."}
        for k in range(600)
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    args = [sys.executable, "-m", "dedup", "cluster", str(path), "-b", "dense"]
    args += ["-m", str(tiny_model_dir), "--cache", str(tmp_path / "shared"), "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    runs = [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in runs]
    for proc, (_, err) in zip(runs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    docs = [json.loads(out) for out, _ in outputs]
    assert docs[0]["stories"] == docs[1]["stories"]
    assert rows_in(tmp_path / "shared" / CACHE_FILE) == 600


def test_an_unchanged_corpus_needs_no_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dedup.represent

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    settings = Settings(backend="dense", model=str(model), device="cpu", cache=tmp_path / "c")
    articles = corpus(12)
    first = cluster_articles(articles, settings)
    loads: list[str] = []
    real_load = dedup.represent.load_encoder

    def counting_load(name: str, **options: Any) -> Any:
        loads.append(name)
        return real_load(name, **options)

    monkeypatch.setattr(dedup.represent, "load_encoder", counting_load)
    again = cluster_articles(articles, settings)
    assert loads == []  # every vector came from the cache: no model loaded
    assert again.stories == first.stories and again.run.model == str(model)
    cluster_articles([*articles, *corpus(1, start=50)], settings)  # one new article
    assert loads == [str(model)]
    # Other weights under the same path are another model: loaded again, never mixed up.
    os.utime(model / "model.safetensors", ns=(1, 1))
    cluster_articles(articles, settings)
    assert loads == [str(model)] * 2
    auto = cluster_articles(articles, dataclasses.replace(settings, backend="auto"))
    assert (auto.run.backend, auto.run.model, len(loads)) == ("hybrid", str(model), 2)
    fast = cluster_articles(articles, dataclasses.replace(settings, fast=True))
    assert fast.run.model == str(model) and len(loads) == 3  # int8 vectors are other vectors


def test_rows_of_the_wrong_sqlite_type_are_embedded_again(tmp_path: Path) -> None:
    """A cache another program wrote into: text and numbers where blobs belong."""
    articles = corpus(3)
    keys = article_keys(CountingEncoder(), articles)
    with EmbeddingCache(tmp_path):
        pass  # creates the tables
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        db.execute("INSERT INTO vectors VALUES (?, ?)", (keys[0], "x" * 256))
        db.execute("INSERT INTO vectors VALUES (?, ?)", (keys[1], 12345))
        db.execute("INSERT INTO vectors VALUES (?, ?)", (keys[2], 3.5))
        db.execute("INSERT INTO encoders VALUES (?, ?, ?)", ("some identity", 7, "wide"))
    enc = CountingEncoder()
    embedded = embed_cached(enc, articles, tmp_path)
    assert enc.encoded == 3 and embedded.vectors.shape == (3, 64) and embedded.warnings == ()
    with EmbeddingCache(tmp_path) as cache:
        assert cache.recall("some identity") is None
