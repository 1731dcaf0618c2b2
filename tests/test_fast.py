"""`--fast`: the int8 ONNX export, its cache, the encoder's fingerprint, and its failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.config import CACHE_ENV
from dedup.errors import ModelError
from dedup.represent import onnx
from dedup.represent.fingerprint import encoder_fingerprint
from dedup.represent.transformer import load_encoder

ARTICLES = str(Path(__file__).parent.parent / "samples" / "articles")
TEXTS = [
    "The central bank raised interest rates by a quarter point on Tuesday.",
    "Rates went up 0.25 points, the central bank said.",
    "A new species of frog was found in the rainforest.",
    "",
]


@pytest.fixture(scope="session")
def export_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session, so each model is exported once."""
    return tmp_path_factory.mktemp("dedup_cache")


@pytest.fixture(autouse=True)
def _cache_env(export_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(export_cache))


def _exports(root: Path) -> list[Path]:
    return sorted((root / "onnx").glob("*")) if (root / "onnx").is_dir() else []


def test_fast_tiny_model_encodes_like_the_default(tiny_model_dir: Path) -> None:
    default = load_encoder(str(tiny_model_dir), device="cpu")
    fast = load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    assert fast.precision == "onnx-int8" and default.precision == "fp32"
    assert (fast.dim, fast.max_tokens, fast.window) == (
        default.dim,
        default.max_tokens,
        default.window,
    )
    a, b = default.encode(TEXTS), fast.encode(TEXTS)
    assert b.dtype == np.float32 and b.shape == a.shape
    np.testing.assert_allclose(np.linalg.norm(b[:3], axis=1), 1.0, atol=1e-5)
    assert np.all(np.isfinite(b))
    assert float((a[:3] * b[:3]).sum(axis=1).min()) > 0.95
    # The same tokenizer: token counts, hence chunks, do not depend on --fast.
    assert fast.count_tokens(TEXTS) == default.count_tokens(TEXTS)


def test_fingerprint_names_model_weights_and_precision(
    tiny_model_dir: Path, fake_encoder: object
) -> None:
    default = load_encoder(str(tiny_model_dir), device="cpu")
    again = load_encoder(str(tiny_model_dir), device="cpu")
    fast = load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    assert default.fingerprint == again.fingerprint
    assert fast.fingerprint != default.fingerprint
    assert fast.fingerprint.startswith(str(tiny_model_dir) + "@")
    assert fast.fingerprint.endswith("/onnx-int8") and default.fingerprint.endswith("/fp32")
    assert encoder_fingerprint(fast) == fast.fingerprint
    assert encoder_fingerprint(fake_encoder) == "fake-hash-64"  # type: ignore[arg-type]


def test_changed_weights_change_fingerprint_and_export(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    before = load_encoder(str(copy), device="cpu", fast=True)
    weights = next(copy.rglob("model.safetensors"))
    weights.write_bytes(weights.read_bytes())  # same bytes, new time: may be new weights
    after = load_encoder(str(copy), device="cpu", fast=True)
    assert after.fingerprint != before.fingerprint
    assert len(_exports(tmp_path / "cache")) == 2


def test_export_is_cached_and_reused(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    [path] = _exports(tmp_path)  # one file, no temporary directory left behind
    assert path.suffix == ".onnx"
    stamp = path.stat().st_mtime_ns

    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx, "_export", no_export)
    second = load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.encode(TEXTS), second.encode(TEXTS))


def test_leftovers_of_a_killed_export_are_never_loaded_and_cleared_later(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    killed = tmp_path / "onnx" / ".export-killed"
    killed.mkdir(parents=True)
    (killed / "model.onnx").write_bytes(b"half a model")
    os.utime(killed, (0, 0))
    load_encoder(str(tiny_model_dir), device="cpu", fast=True).encode(TEXTS)
    [export] = _exports(tmp_path)
    assert export.suffix == ".onnx" and not killed.exists()


def test_damaged_cached_export_is_made_again(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    reference = load_encoder(str(tiny_model_dir), device="cpu", fast=True).encode(TEXTS)
    [path] = _exports(tmp_path)
    path.write_bytes(b"not an onnx model")
    again = load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    np.testing.assert_allclose(again.encode(TEXTS), reference, atol=1e-6)
    assert path.stat().st_size > 1000


def test_failed_export_is_a_one_line_model_error_and_leaves_nothing(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))

    def broken(*args: object, **kwargs: object) -> None:
        Path(str(args[2])).write_bytes(b"half a model")  # killed or failed half-way
        raise RuntimeError("exporter exploded\n  at some deep frame\n  and another")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ModelError) as info:
        load_encoder(str(tiny_model_dir), device="cpu", fast=True)
    message = str(info.value)
    assert "\n" not in message
    assert (
        "cannot export model" in message
        and "to int8 ONNX:" in message
        and "exporter exploded" in message
    )
    assert not any((tmp_path / "onnx").iterdir())


def test_cli_cluster_fast_with_a_local_model(tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["cluster", ARTICLES, "--backend", "dense", "--model", str(tiny_model_dir), "--fast"],
        env={"COLUMNS": "100", "HF_HUB_OFFLINE": "1"},
    )
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(
        app,
        ["cluster", ARTICLES, "-b", "dense", "-m", str(tiny_model_dir), "--fast", "--json"],
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert json.loads(result.stdout)["run"]["backend"] == "dense"


@pytest.mark.minilm
def test_fast_minilm_keeps_similarities(minilm_dir: Path) -> None:
    default = load_encoder(str(minilm_dir), device="cpu")
    fast = load_encoder(str(minilm_dir), device="cpu", fast=True)
    a, b = default.encode(TEXTS[:3]), fast.encode(TEXTS[:3])
    assert float((a * b).sum(axis=1).min()) > 0.97
    sims = b @ b.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # the paraphrase stays far above the unrelated text
    assert abs(float(sims[0, 1] - (a @ a.T)[0, 1])) < 0.03
