"""The sentence-transformers adapter: :class:`SentenceTransformerEncoder` and
:func:`load_encoder` turn any sentence-transformers model name or local directory into an
:class:`~dedup.represent.encoder.Encoder`, on the device asked for and with the prefix the model
wants. Loading never waits on an unreachable model hub: a name that is not in the local cache
fails at once with a :class:`ModelError` saying how to fix it (see
:mod:`dedup.represent.model_files`).

torch and sentence-transformers are imported lazily, so importing this module stays cheap for
runs that never need a model.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from dedup.config import NEWS_MODEL, cache_root
from dedup.errors import InputError, ModelError, one_line
from dedup.progress import Advance
from dedup.represent import bundled, tuned
from dedup.represent.encoder import FloatArray, normalise_rows
from dedup.represent.fingerprint import model_fingerprint
from dedup.represent.model_files import (
    hub_cache_folder,
    local_model_dir,
    model_source,
    source_dir,
    weights_identity,
)
from dedup.represent.static import STATIC_BATCH, STATIC_MAX_TOKENS, StaticEncoder, static_layout
from dedup.represent.tuned import merge_adapter

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "SentenceTransformerEncoder",
    "choose_prefix",
    "is_static",
    "load_encoder",
    "resolve_device",
]

logger = logging.getLogger(__name__)

# A tokenizer whose model_max_length was never set reports a huge sentinel; fall back to this.
_FALLBACK_MAX_TOKENS = 512
_ABSURD_MAX_TOKENS = 1_000_000

_E5_RE = re.compile(r"(?:^|[^a-z0-9])e5(?:[^0-9]|$)")


# --------------------------------------------------------------------------- devices


def resolve_device(device: str) -> str:
    """Turn ``auto`` into the best available device (cuda, then mps, then cpu); check others.

    Raises :class:`InputError` for an unknown device or one this machine does not have.
    """
    import torch

    wanted = device.strip().lower()
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if wanted == "cpu":
        return "cpu"
    if wanted == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(
                "device 'mps' is not available on this machine: use cpu", setting="device"
            )
        return "mps"
    match = re.fullmatch(r"cuda(?::(\d+))?", wanted)
    if match:
        if not torch.cuda.is_available():
            raise InputError(
                f"device {device!r} is not available: this torch build sees no CUDA GPU; use cpu",
                setting="device",
            )
        index = int(match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise InputError(f"device {device!r} does not exist: this machine has {count} GPU(s)")
        return wanted
    raise InputError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")


# --------------------------------------------------------------------------- prefix


def choose_prefix(model: str, prompts: Mapping[str, str | None]) -> str:
    """The text put before every input when the caller does not choose one.

    The model's own ``query`` prompt wins (sentence-transformers ``prompts`` config); otherwise
    E5 models get ``"passage: "``; otherwise nothing. E5's card asks for ``"query: "`` on both
    sides of a symmetric task, but both sides here are news articles, and on the SemEval-2022
    dev pairs ``"passage: "`` is measured better with multilingual-e5-small (centred cosine
    Pearson 0.760 against 0.746, de-en 0.722 against 0.698; see docs/evaluation.md). E5 is
    recognised by ``e5`` standing as its own token in the last component of the name
    (``multilingual-e5-small``, ``e5-base-v2``), so a directory that merely contains the
    letters elsewhere in its path does not count.
    """
    query = prompts.get("query")
    if query:
        return query
    last = Path(model.rstrip("/\\")).name.lower() or model.lower()
    return "passage: " if _E5_RE.search(last) else ""


# --------------------------------------------------------------------------- loading


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence transformers' and sentence-transformers' bars, warnings and info while active."""
    if not enabled:
        yield
        return
    # Imported as Any: these helpers carry no type annotations upstream.
    hub_utils: Any = importlib.import_module("huggingface_hub.utils")
    hf_logging: Any = importlib.import_module("transformers.utils.logging")

    hub_bars_off = hub_utils.are_progress_bars_disabled()
    bars_on = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    st_logger = logging.getLogger("sentence_transformers")
    st_level = st_logger.level
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    st_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        st_logger.setLevel(st_level)
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()
        if hub_bars_off:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()


def _load_model(model: str, device: str, progress: bool) -> tuple[SentenceTransformer, str]:
    """Find ``model`` locally or, when the hub answers, download it; ModelError otherwise.

    Returns the model and where it was loaded from (a directory or a hub repository id).
    """
    if model == NEWS_MODEL:
        return _load_tuned(model, tuned.SHIPPED, tuned.shipped_base(), device, progress)
    if model == bundled.BUNDLED_MODEL:
        with _quiet(not progress):  # converted on first use; transformers chatters meanwhile
            source, local_only = str(bundled.model_dir(cache_root())), True
    else:
        source, local_only = model_source(model)
        note = tuned.note(Path(source)) if local_only else None
        if note is not None and tuned.is_adapter(Path(source)):
            return _load_tuned(model, Path(source), note["base"], device, progress)

    logger.info("loading model %s on %s%s", source, device, " (local files only)" * local_only)
    try:
        with _quiet(not progress):
            from sentence_transformers import SentenceTransformer

            st = SentenceTransformer(
                source,
                device=device,
                local_files_only=local_only,
                cache_folder=hub_cache_folder(),
            )
            if device.startswith("cuda"):
                st.half()  # fp16 halves memory and roughly doubles speed on GPUs
            st.eval()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot load model {model}: {one_line(exc)}") from exc
    return st, source


def _load_tuned(
    model: str, directory: Path, base: str, device: str, progress: bool
) -> tuple[SentenceTransformer, str]:
    """A model `dedup tune` made: its adapter merged into its base (see :mod:`.tuned`)."""
    if Path(base).expanduser().resolve() == directory.resolve():
        raise ModelError(f"cannot load model {model}: its note names itself as its base")
    st, _ = _load_model(base, device, progress)
    merge_adapter(st, directory)
    st.eval()
    return st, str(directory)


def is_static(model: SentenceTransformer) -> bool:
    """Whether ``model`` is a static one: its first module a ``StaticEmbedding``."""
    return len(model) > 0 and type(model[0]).__name__ == "StaticEmbedding"


class SentenceTransformerEncoder:
    """An :class:`~dedup.represent.encoder.Encoder` backed by a sentence-transformers model.

    ``model`` is a local directory or a model name on the Hugging Face hub (used from the local
    cache when present; see :func:`load_encoder`). ``prefix=None`` picks the prefix with
    :func:`choose_prefix`; the chosen one is kept in :attr:`prefix`. On CUDA the model runs in
    fp16. With ``fast=True`` on the CPU, the transformer runs as an int8 ONNX export with
    onnxruntime (see :mod:`dedup.represent.onnx`); elsewhere ``fast`` changes nothing. The
    libraries' loading chatter (download bars, warnings) appears only with ``progress=True``;
    encoding draws no bar of its own (see :meth:`encode`).

    :attr:`fingerprint` names what the vectors depend on: the model name, a digest of its
    files, prefix and window, and the precision it runs in (``fp32``, ``fp16``, ``onnx-int8``).
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        prefix: str | None = None,
        progress: bool = False,
        fast: bool = False,
    ) -> None:
        self.name = model
        self.device = resolve_device(device)
        self.model, source = _load_model(model, self.device, progress)
        #: Where the model's files are (None if they cannot be found): its calibration is
        #: looked up by the digest of the weights there (see dedup.represent.calibration).
        self.directory = source_dir(source)
        identity = weights_identity(source)
        static = is_static(self.model)
        if fast and static:
            logger.info("int8 ONNX (fast) changes nothing for static model %s", model)
            fast = False
        if fast and self.device == "cpu":
            from dedup.represent.onnx import use_onnx_int8

            with _quiet(not progress):
                use_onnx_int8(self.model, model, identity, cache_root() / "onnx")
            precision = "onnx-int8"
        else:
            if fast:
                logger.info(
                    "int8 ONNX (fast) changes nothing on %s: it applies to the CPU", self.device
                )
            precision = "fp16" if self.device.startswith("cuda") else "fp32"
        self.precision = precision
        tokenizer = self.model.tokenizer
        if tokenizer is None:
            raise ModelError(f"cannot use model {model}: it has no text tokenizer")
        self._tokenizer: Any = tokenizer
        #: A static model: a token table and a mean, no transformer and no window.
        self.static = static
        if prefix is None:
            # A static model's token vectors were distilled without a prefix: one would only
            # add the same few tokens to every text's mean.
            made = tuned.note(self.directory)
            if made is not None:  # the prefix it was tuned with
                prefix = str(made.get("prefix", ""))
            else:
                prefix = "" if self.static else choose_prefix(model, self.model.prompts)
        self.prefix = prefix

        max_tokens = STATIC_MAX_TOKENS if self.static else self.model.max_seq_length
        if not max_tokens or max_tokens > _ABSURD_MAX_TOKENS:
            logger.warning(
                "model %s does not state its window; assuming %d tokens",
                model,
                _FALLBACK_MAX_TOKENS,
            )
            max_tokens = _FALLBACK_MAX_TOKENS
            self.model.max_seq_length = max_tokens
        self.max_tokens = int(max_tokens)

        dim = self.model.get_embedding_dimension()
        self.dim = int(dim) if dim else int(self.encode([""]).shape[1])

        specials = 0 if self.static else int(self._tokenizer.num_special_tokens_to_add(pair=False))
        prefix_tokens = self.count_tokens([self.prefix])[0] if self.prefix else 0
        #: Tokens left for text in one input once special tokens and the prefix are in.
        self.window = max(1, self.max_tokens - specials - prefix_tokens)
        self.fingerprint = model_fingerprint(
            model, identity, self.prefix, self.max_tokens, precision
        )

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEncoder(name={self.name!r}, device={self.device!r}, "
            f"dim={self.dim}, max_tokens={self.max_tokens}, prefix={self.prefix!r}, "
            f"precision={self.precision!r})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> FloatArray:
        """Embed ``texts`` with the prefix; rows are float32 with unit norm.

        sentence-transformers sorts the inputs by length before batching (less padding) and
        restores their order, so the rows match ``texts``. Its own progress bar stays off;
        ``progress`` is called with the texts of each batch as the model finishes it.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.static:
            # A text's vector does not depend on its batch here (no padding, no attention):
            # big batches only save the per-batch work, most of a static model's time.
            batch_size = max(batch_size, STATIC_BATCH)
        hook = None
        if progress is not None:
            # The model runs once per batch, in batches of batch_size but the last: a hook
            # on it counts them without changing how sentence-transformers batches.
            left = len(texts)

            def batch_done(*_: object) -> None:
                nonlocal left
                n = min(batch_size, left)
                left -= n
                progress(n)

            hook = self.model.register_forward_hook(batch_done)
        try:
            raw = self.model.encode(
                list(texts),
                prompt=self.prefix,
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        except Exception as exc:
            raise ModelError(f"model {self.name} failed while encoding: {one_line(exc)}") from exc
        finally:
            if hook is not None:
                hook.remove()
        # Renormalise in float32: on GPU the model's own normalisation ran in fp16.
        return normalise_rows(np.asarray(raw, dtype=np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the model's tokens, without special tokens or the prefix."""
        if not texts:
            return []
        if self.static:  # a tokenizers.Tokenizer, as StaticEmbedding keeps it
            found = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return [len(one.ids) for one in found]
        encoded = self._tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # counting long texts is the point: no "too long" warning
        )
        return [len(ids) for ids in encoded["input_ids"]]


@overload
def load_encoder(
    model: str,
    *,
    device: str = ...,
    progress: bool = ...,
    fast: bool = ...,
    trainable: Literal[True],
) -> SentenceTransformerEncoder: ...


@overload
def load_encoder(
    model: str, *, device: str = ..., progress: bool = ..., fast: bool = ..., trainable: bool = ...
) -> SentenceTransformerEncoder | StaticEncoder: ...


def load_encoder(
    model: str,
    *,
    device: str = "auto",
    progress: bool = False,
    fast: bool = False,
    trainable: bool = False,
) -> SentenceTransformerEncoder | StaticEncoder:
    """Load a sentence-transformers model for :func:`~dedup.represent.encoder.embed_articles`.

    A static model on the CPU (``device`` auto or cpu) is a :class:`StaticEncoder`: no torch
    (see :mod:`dedup.represent.static`); ``trainable`` asks for the torch model whatever it is
    (`dedup tune` trains it).

    A local directory is loaded directly. A hub name is loaded from the local Hugging Face cache
    when it is there, with no network. Otherwise, with ``HF_HUB_OFFLINE`` or
    ``TRANSFORMERS_OFFLINE`` set, or when the hub (``HF_ENDPOINT``) does not answer a short
    connection probe, it fails at once instead of retrying for a minute. Any failure is a
    :class:`ModelError` with a one-line reason and how to fix it; an unknown or unavailable
    ``device`` is an :class:`InputError`. ``fast`` runs the model as int8 ONNX on the CPU,
    exported on first use and cached (see :mod:`dedup.represent.onnx`).
    """
    if not trainable and device.strip().lower() in ("auto", "cpu"):
        directory = local_model_dir(model)  # no network: what is not here is no static model
        if directory is not None and static_layout(directory):
            if fast:
                logger.info("int8 ONNX (fast) changes nothing for static model %s", model)
            logger.info("loading static model %s (numpy, no torch)", directory)
            return StaticEncoder(model, directory)
    return SentenceTransformerEncoder(model, device=device, progress=progress, fast=fast)
