"""dedup distill: a static model distilled from the tiny test transformer, used with --model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.models import Article
from dedup.represent.distill import DISTILL_NOTE

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "articles"

runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=ENV)


def samples_report(model: Path, tmp_path: Path) -> dict[str, Any]:
    """samples/ clustered (hybrid) on ``model``: the report.json, every article in a story."""
    out = tmp_path / "report"
    result = invoke(
        "cluster", str(SAMPLES), "--model", str(model), "--backend", "hybrid",
        "--out", str(out), "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert sum(len(s["members"]) for s in doc["stories"]) == 5
    return doc


@pytest.fixture(scope="module")
def static_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("distilled") / "static"
    result = invoke("distill", "--model", str(tiny_model_dir), "--out", str(out), "--dims", "8")
    assert result.exit_code == 0, result.output
    assert f"--model {out}" in result.output
    return out


def test_distill_writes_a_static_model_with_its_note(static_dir: Path, tiny_model_dir: Path):
    note = json.loads((static_dir / DISTILL_NOTE).read_text(encoding="utf-8"))
    assert note["source"] == str(tiny_model_dir)
    assert note["dims"] == 8
    assert note["tokens"] > 100
    assert (static_dir / "modules.json").is_file()
    assert not [p for p in static_dir.parent.iterdir() if p.name.startswith(".static.")]


def test_a_static_model_encodes_whole_articles_without_a_window(static_dir: Path):
    from dedup.represent.encoder import article_chunks, embed_articles
    from dedup.represent.transformer import STATIC_MAX_TOKENS, load_encoder

    encoder = load_encoder(str(static_dir), device="cpu", fast=True)
    assert encoder.static
    assert encoder.dim == 8
    assert encoder.prefix == ""
    assert encoder.window == STATIC_MAX_TOKENS
    long_body = " ".join(["The minister spoke about the new data centre."] * 400)
    article = Article(id="a", title="Data centre", text=long_body)
    assert len(article_chunks(encoder, [article])) == 1
    assert len(article_chunks(encoder, [article])[0]) == 1  # one chunk: the whole text
    assert encoder.count_tokens(["data centre"])[0] >= 2
    vectors = embed_articles(encoder, [article, Article(id="b", title="Other", text="words")])
    assert vectors.shape == (2, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_static_model_runs_without_torch_and_gives_sentence_transformers_vectors(
    static_dir: Path,
) -> None:
    from dedup.represent.static import StaticEncoder
    from dedup.represent.transformer import SentenceTransformerEncoder, load_encoder

    texts = ["The minister opened the data centre.", "", "Hội nghị ở Hà Nội", "word " * 900]
    encoder = load_encoder(str(static_dir), device="cpu")
    assert isinstance(encoder, StaticEncoder)
    reference = SentenceTransformerEncoder(str(static_dir), device="cpu")
    assert encoder.fingerprint == reference.fingerprint  # one cache serves both
    assert (encoder.dim, encoder.window, encoder.prefix) == (
        reference.dim, reference.window, reference.prefix,
    )  # fmt: skip
    assert encoder.count_tokens(texts) == reference.count_tokens(texts)
    ours, theirs = encoder.encode(texts), reference.encode(texts)
    assert np.abs(ours - theirs).max() < 1e-3
    assert np.all(np.sum(ours * theirs, axis=1)[[0, 2, 3]] > 0.99999)
    assert not ours[1].any()  # no tokens: no vector, as sentence-transformers gives
    assert isinstance(load_encoder(str(static_dir), trainable=True), SentenceTransformerEncoder)
    code = (
        "import sys; from dedup.represent.transformer import load_encoder; "
        f"e = load_encoder({str(static_dir)!r}); e.encode(['a text']); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_float16_table_is_read_in_place_and_gives_its_float32_widenings_vectors(
    static_dir: Path, tmp_path: Path
) -> None:
    """A half-precision table (model2vec writes one) is kept as it is, and its vectors are
    those of the same table widened to float32, to the bit: subnormal, negative and zero
    entries included."""
    from safetensors.numpy import load_file, save_file

    from dedup.represent.static import StaticEncoder

    (key, table), *_ = load_file(str(static_dir / "model.safetensors")).items()
    rng = np.random.default_rng(7)
    half = (table * rng.uniform(0.5, 2.0, table.shape)).astype(np.float16)
    half[0, :3] = [np.float16(6e-8), np.float16(-0.0), np.float16(-3e-5)]  # subnormals, -0
    halved, widened = tmp_path / "half", tmp_path / "wide"
    for directory, weights in ((halved, half), (widened, half.astype(np.float32))):
        shutil.copytree(static_dir, directory)
        save_file({key: weights}, str(directory / "model.safetensors"))
    texts = ["The minister opened the data centre.", "Hội nghị ở Hà Nội", "word " * 900, ""]
    one, other = StaticEncoder("half", halved), StaticEncoder("wide", widened)
    assert one._table.dtype == np.float16 and other._table.dtype == np.float32
    assert np.array_equal(one.encode(texts), other.encode(texts))


_UNNOTED: list[Any] = []  # the worker's function before the test below wraps it


def _embed_slice_noting_the_process(number: int) -> Any:
    """What a process runs in the test below: the slice embedded, its process noted. A
    process' first slice waits (up to a minute) until another has noted one: slices this
    small, on a busy machine, were all done by one process before the other started, and the
    test counts the processes that did any. A worker that hangs still leaves one."""
    import time

    noted = Path(os.environ["DEDUP_TEST_PIDS"])
    own = noted / str(os.getpid())
    if not own.exists():
        own.touch()
        deadline = time.monotonic() + 60
        while len(list(noted.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return _UNNOTED[0](number)


def test_a_static_models_slices_spread_over_processes_give_the_same_vectors(
    static_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    from dedup.represent import cache
    from dedup.represent.encoder import embed_articles
    from dedup.represent.transformer import load_encoder

    encoder = load_encoder(str(static_dir), device="cpu")
    articles = [
        Article(id=f"a{k}", title=f"Meeting {k % 7}", text=f"The minister said {k} " * (k % 9 + 1))
        for k in range(41)
    ]
    alone = embed_articles(encoder, articles)
    encoder.count_tokens(["the tokenizer's own threads used first"] * 256)
    monkeypatch.setattr(cache, "SLICE", 3)  # 14 slices, 7 a process
    monkeypatch.setattr(cache, "SPREAD_MIN_SLICES", 7)
    monkeypatch.setattr(cache, "usable_cores", lambda: 4)
    monkeypatch.setenv("DEDUP_TEST_PIDS", str(tmp_path))
    _UNNOTED[:] = [cache._embed_slice]
    monkeypatch.setattr(cache, "_embed_slice", _embed_slice_noting_the_process, raising=True)
    told: list[int] = []
    before = os.environ.get("TOKENIZERS_PARALLELISM")
    spread = cache.embed_cached(encoder, articles, None, progress=told.append)
    assert os.environ.get("TOKENIZERS_PARALLELISM") == before  # only the workers were told
    assert np.array_equal(spread.vectors, alone)  # the same bits, in the same rows
    assert sum(told) == len(articles)
    pids = {int(p.name) for p in tmp_path.iterdir()}
    assert len(pids) == 2 and os.getpid() in pids  # this process, and a forked one
    assert not encoder._ids._index  # the words this process learnt are let go
    assert cache._spread is None
    assert "tokenizers" not in capfd.readouterr().err  # no fork warning in the workers
    assert cache.spread_over(encoder, 13) == 1  # too few slices: this process alone
    monkeypatch.setattr(cache, "forks", lambda: False)
    assert cache.spread_over(encoder, 14) == 1  # spawned workers would not have the slices


def test_cluster_runs_on_the_distilled_model(static_dir: Path, tmp_path: Path):
    assert str(static_dir) in json.dumps(samples_report(static_dir, tmp_path))


def test_distill_takes_a_vocabulary(tiny_model_dir: Path, tmp_path: Path):
    words = tmp_path / "words.txt"
    words.write_text("semiconductorfoundry\n\nsemiconductorfoundry\nhanoi\n", encoding="utf-8")
    out = tmp_path / "static"
    result = invoke(
        "distill", "--model", str(tiny_model_dir), "--out", str(out), "--dims", "0",
        "--vocabulary", str(words), "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    note = json.loads((out / DISTILL_NOTE).read_text(encoding="utf-8"))
    assert note["dims"] == 32  # --dims 0 keeps the model's own
    assert note["vocabulary_added"] == 2


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    # Before a model is loaded the output is the error alone; after, loading's bars may precede it.
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    return errors[0]


def test_no_such_model_is_one_line(tmp_path: Path):
    error = _one_line_error(
        invoke("distill", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    )
    assert "nope" in error
    assert not (tmp_path / "o").exists()


def test_unwritable_out_is_one_line(tiny_model_dir: Path, tmp_path: Path):
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    error = _one_line_error(
        invoke("distill", "--model", str(tiny_model_dir), "--out", str(a_file / "model"))
    )
    assert "not a directory" in error
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x", encoding="utf-8")
    error = _one_line_error(invoke("distill", "--model", str(tiny_model_dir), "--out", str(full)))
    assert "not empty" in error
    assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        error = _one_line_error(
            invoke("distill", "--model", str(tiny_model_dir), "--out", str(locked / "m"))
        )
        assert "not writable" in error


def test_bad_dims_and_static_sources_are_one_line(
    tiny_model_dir: Path, static_dir: Path, tmp_path: Path
):
    error = _one_line_error(
        invoke(
            "distill", "--model", str(tiny_model_dir), "--out", str(tmp_path / "a"), "--dims", "64"
        )
    )
    assert "--dims" in error
    error = _one_line_error(
        invoke("distill", "--model", str(static_dir), "--out", str(tmp_path / "b"))
    )
    assert "already static" in error
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    error = _one_line_error(
        invoke(
            "distill", "--model", str(tiny_model_dir), "--out", str(tmp_path / "c"),
            "--vocabulary", str(empty),
        )
    )  # fmt: skip
    assert "no words" in error


def test_a_model_distilled_from_the_bundled_one_is_named_by_its_recipe(
    static_dir: Path, tmp_path: Path
) -> None:
    """Two machines distilling the bundled model the same way get weights equal up to the
    last bits of floating point: the calibration table is keyed on the recipe, not on them."""
    import shutil

    from dedup.represent import calibration
    from dedup.represent.bundled import BUNDLED_MODEL

    assert calibration.distill_recipe(static_dir) is None  # distilled from the tiny model
    assert calibration.model_key(static_dir).startswith("sha256:")
    copies = []
    for k in (1, 2):
        copy = tmp_path / f"copy{k}"
        shutil.copytree(static_dir, copy)
        note = json.loads((copy / DISTILL_NOTE).read_text(encoding="utf-8"))
        note.update(source=BUNDLED_MODEL, seconds=100.0 * k)  # when it was made does not count
        (copy / DISTILL_NOTE).write_text(json.dumps(note), encoding="utf-8")
        with (copy / "model.safetensors").open("ab") as weights:
            weights.write(bytes([k]))  # the last bits differ
        copies.append(copy)
    keys = {calibration.model_key(c) for c in copies}
    assert len(keys) == 1 and next(iter(keys)).startswith("distill:")
    assert "distilled from" in calibration.describe(str(copies[0]))
    note = json.loads((copies[0] / DISTILL_NOTE).read_text(encoding="utf-8"))
    (copies[0] / DISTILL_NOTE).write_text(json.dumps({**note, "vocabulary_added": 3}))
    assert calibration.model_key(copies[0]).startswith("sha256:")  # words added: its weights
    # `dedup distill` with its defaults on the bundled model: the table shipped for it.
    default = {"source": BUNDLED_MODEL, "dims": 256, "tokens": 249999, "tool": "model2vec"}
    note = {**default, "vocabulary_added": 0, "model2vec": version("model2vec")}
    (copies[1] / DISTILL_NOTE).write_text(json.dumps(note), encoding="utf-8")
    table = calibration.for_model(calibration.model_key(copies[1]))
    assert table.own and table.model is not None and "256 dimensions" in table.model
    # ...fitted on the one scale every corpus is put on, as the bundled model's table is: the
    # model alone across languages, the mean of short texts, the lift of short texts.
    assert table.fusions["hybrid"].alone is not None
    assert table.mean_short is not None and table.short_lift > 0
