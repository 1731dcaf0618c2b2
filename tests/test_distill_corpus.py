"""dedup distill --corpus: the distilled table trained on articles to say what the (tiny test)
transformer says of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dedup.represent.distill import DISTILL_NOTE
from tests.test_distill import SAMPLES, invoke, samples_report


def _corpus(path: Path, n: int) -> Path:
    """``n`` short articles cut from the samples' sentences, one JSON object a line."""
    sentences = [
        s.strip()
        for f in sorted(SAMPLES.glob("*.txt"))
        for s in re.split(r"(?<=[.!?])\s+", f.read_text(encoding="utf-8"))
        if len(s.split()) >= 6
    ]
    rows = [
        {"id": f"s{k}", "title": sentences[k % len(sentences)], "text": sentences[(k * 7 + 3) % len(sentences)]}  # noqa: E501
        for k in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("trained")
    corpus = _corpus(work / "corpus.jsonl", 60)
    out = work / "static"
    result = invoke(
        "distill", "--model", str(tiny_model_dir), "--out", str(out), "--dims", "8",
        "--corpus", str(corpus),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained on 60 texts (agreement with the transformer" in result.output
    assert f"--model {out}" in result.output
    return out


def test_a_trained_model_records_its_corpus_and_moves_towards_the_transformer(
    trained: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    note = json.loads((trained / DISTILL_NOTE).read_text(encoding="utf-8"))
    assert note["corpus"]["texts"] == 60 and len(note["corpus"]["sha256"]) == 64
    before, after = note["agreement"]
    assert after > before  # the pairs of texts look more as the transformer sees them
    plain = tmp_path / "plain"
    result = invoke("distill", "--model", str(tiny_model_dir), "--out", str(plain), "--dims", "8")
    assert result.exit_code == 0, result.output
    from model2vec import StaticModel

    a = StaticModel.from_pretrained(str(plain)).embedding
    b = StaticModel.from_pretrained(str(trained)).embedding
    assert a.shape == b.shape
    moved = ~np.isclose(a, b, atol=1e-6).all(axis=1)
    assert 0 < moved.sum() < len(a)  # the corpus' tokens moved; the others kept their vectors


def test_cluster_runs_on_the_trained_model(trained: Path, tmp_path: Path) -> None:
    samples_report(trained, tmp_path)


def test_a_corpus_too_small_to_train_on_is_one_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "static"
    result = invoke(
        "distill", "--model", str(tiny_model_dir), "--out", str(out), "--dims", "8",
        "--corpus", str(SAMPLES),
    )  # fmt: skip
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert errors == [
        "Error: the corpus has 5 usable texts: at least 20 are needed to train on (--corpus)"
    ], result.output
    assert not out.exists()


def test_a_trained_recipe_has_its_own_calibration_key(trained: Path, tmp_path: Path) -> None:
    import shutil

    from dedup.represent import calibration
    from dedup.represent.bundled import BUNDLED_MODEL

    keys = []
    for corpus in (None, "a" * 64, "b" * 64):
        copy = tmp_path / f"copy-{corpus}"
        shutil.copytree(trained, copy)
        note = json.loads((copy / DISTILL_NOTE).read_text(encoding="utf-8"))
        note["source"] = BUNDLED_MODEL
        if corpus is None:
            del note["corpus"]
        else:
            note["corpus"]["sha256"] = corpus
        (copy / DISTILL_NOTE).write_text(json.dumps(note), encoding="utf-8")
        keys.append(calibration.model_key(copy))
    assert all(k is not None and k.startswith("distill:") for k in keys)
    assert len(set(keys)) == 3  # plain, and one per corpus
    assert "trained on corpus aaaaaaaaaaaa" in calibration.describe(
        str(tmp_path / f"copy-{'a' * 64}")
    )
