"""Dense representation: a sentence-transformers model turns each article into one unit vector.

The stage has three parts:

* :class:`Encoder`, a small protocol (texts in, L2-normalised float32 rows out, plus a token
  counter) so that any model, or a fake one in tests, plugs in;
* :class:`SentenceTransformerEncoder` and :func:`load_encoder`, the adapter for any
  sentence-transformers model name or local directory. Loading never waits on an unreachable
  model hub: a name that is not in the local cache fails at once with a :class:`ModelError`
  saying how to fix it;
* :func:`embed_articles`, which pools the chunks of long articles so that nothing is silently
  truncated and the title and lead carry most of the weight (see its docstring).

torch and sentence-transformers are imported lazily, so importing this module stays cheap for
runs that never need a model.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from dedup.config import cache_root
from dedup.errors import InputError, ModelError, one_line
from dedup.models import Article
from dedup.represent import bundled

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "MAX_CHUNKS",
    "POOLING_VERSION",
    "Encoder",
    "SentenceTransformerEncoder",
    "article_chunks",
    "choose_prefix",
    "chunk_weight",
    "embed_articles",
    "encoder_fingerprint",
    "load_encoder",
    "local_model_dir",
    "local_model_identity",
    "resolve_device",
    "weights_identity",
]

logger = logging.getLogger(__name__)

#: Bump whenever :func:`embed_articles` gives different vectors for the same model and text
#: (chunking, weights, cap, prefix rule). Embedding caches key on it.
POOLING_VERSION = "lead-weighted-chunks-1"

#: At most this many chunks per article: the title+lead chunk and up to seven body chunks.
#: Text past the cap is not embedded (logged), so one enormous page costs bounded time.
MAX_CHUNKS = 8

#: Seconds allowed for resolving and connecting to the model hub before giving up.
HUB_PROBE_TIMEOUT = 3.0

DEFAULT_ENDPOINT = "https://huggingface.co"

# A tokenizer whose model_max_length was never set reports a huge sentinel; fall back to this.
_FALLBACK_MAX_TOKENS = 512
_ABSURD_MAX_TOKENS = 1_000_000

_TRUE = {"1", "on", "yes", "true"}
_PARAGRAPH_RE = re.compile(r"\s*\n\s*")
# A sentence ends with terminal punctuation and whitespace; CJK full stops need no space.
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
_E5_RE = re.compile(r"(?:^|[^a-z0-9])e5(?:[^0-9]|$)")

FloatArray = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised vectors and counts their tokens.

    An encoder may also have a ``fingerprint`` string naming everything its vectors depend on
    (weights, precision); caches key on :func:`encoder_fingerprint`, which falls back to
    ``name`` when it has none.
    """

    name: str
    dim: int
    max_tokens: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> FloatArray:
        """Return an ``(len(texts), dim)`` float32 array whose rows have unit L2 norm."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return each text's length in the model's tokens, special tokens excluded."""
        ...


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


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _offline() -> bool:
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def _cache_folder() -> str | None:
    # sentence-transformers stores models here when set; otherwise the Hugging Face cache.
    return os.environ.get("SENTENCE_TRANSFORMERS_HOME") or None


def _valid_repo_id(model: str) -> bool:
    hub_utils: Any = importlib.import_module("huggingface_hub.utils")  # untyped re-export
    try:
        hub_utils.validate_repo_id(model)
    except ValueError:  # HFValidationError
        return False
    return True


def _cached_repo(model: str) -> str | None:
    """The repository id under which ``model`` sits complete in the local cache, if any."""
    from huggingface_hub import snapshot_download

    # sentence-transformers reads a bare name like "all-MiniLM-L6-v2" as its own organisation's.
    candidates = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    for repo in candidates:
        try:
            snapshot_download(repo, local_files_only=True, cache_dir=_cache_folder())
        except Exception:  # not cached, partial, or not a valid repository id
            continue
        return repo
    return None


def _hub_unreachable(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the model hub (or the proxy in front of it) cannot be reached; None if it can.

    A bare socket connect, not an HTTP request: it answers in milliseconds when the network is
    down, where the hub client retries for more than a minute.
    """
    endpoint = os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return f"HF_ENDPOINT {endpoint!r} is not a URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"HF_ENDPOINT {endpoint!r} has a bad port"
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if proxy_parts.hostname:
            host, port = proxy_parts.hostname, proxy_parts.port or 80

    deadline = time.monotonic() + timeout
    found: list[list[tuple[Any, ...]] | OSError] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    # getaddrinfo ignores socket timeouts; a daemon thread bounds it and never delays exit.
    thread = threading.Thread(target=lookup, name="dedup-hub-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if not found:
        return f"looking up {host} timed out"
    result = found[0]
    if isinstance(result, OSError):
        return f"cannot resolve {host}: {one_line(result)}"
    last: OSError | None = None
    for family, kind, proto, _, address in result:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(remaining)
                sock.connect(address)
            return None
        except OSError as exc:
            last = exc
    reason = one_line(last) if last else "timed out"
    return f"cannot connect to {host}:{port}: {reason}"


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
    path = _local_path(model)
    if model == bundled.BUNDLED_MODEL:
        with _quiet(not progress):  # converted on first use; transformers chatters meanwhile
            source, local_only = str(bundled.model_dir(cache_root())), True
    elif path is not None:
        if not path.is_dir():
            raise ModelError(f"cannot load model {model}: it is a file, not a model directory")
        source, local_only = str(path), True
    elif model.startswith((".", "/", "~", "\\")) or model.count("/") > 1 or ":" in model:
        raise ModelError(
            f"cannot load model {model}: no such directory, and not a Hugging Face model name",
            setting="model",
        )
    elif not _valid_repo_id(model):
        raise ModelError(
            f"cannot load model {model}: not a model directory nor a valid Hugging Face model "
            "name (like intfloat/multilingual-e5-small)"
        )
    else:
        cached = _cached_repo(model)
        if cached is not None:
            source, local_only = cached, True
        elif _offline():
            raise ModelError(
                f"cannot load model {model}: not in the local cache and downloads are off "
                "(HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set). Run once online to cache it, "
                "or name the directory of a local copy as the model",
                setting="model",
            )
        else:
            unreachable = _hub_unreachable()
            if unreachable is not None:
                host = urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).hostname
                raise ModelError(
                    f"cannot load model {model}: not in the local cache and {host} is "
                    f"unreachable ({unreachable}). Run once online to cache it, "
                    "or name the directory of a local copy as the model",
                    setting="model",
                )
            source, local_only = model, False

    logger.info("loading model %s on %s%s", source, device, " (local files only)" * local_only)
    try:
        with _quiet(not progress):
            from sentence_transformers import SentenceTransformer

            st = SentenceTransformer(
                source,
                device=device,
                local_files_only=local_only,
                cache_folder=_cache_folder(),
            )
            if device.startswith("cuda"):
                st.half()  # fp16 halves memory and roughly doubles speed on GPUs
            st.eval()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot load model {model}: {one_line(exc)}") from exc
    return st, source


def _model_dir(source: str) -> Path | None:
    """The local directory holding the files of a model loaded from ``source``."""
    path = Path(source)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, local_files_only=True, cache_dir=_cache_folder()))
    except Exception:
        return None


def _local_source(model: str) -> str | None:
    """What ``model`` would load from, from local files alone: a local directory, a hub name
    complete in the local cache, or the bundled model once converted; else None."""
    path = _local_path(model)
    if model == bundled.BUNDLED_MODEL:
        converted = bundled.converted_dir(cache_root())
        return str(converted) if bundled.source_digest(converted) else None
    if path is not None:
        return str(path) if path.is_dir() else None
    return _cached_repo(model) if _valid_repo_id(model) else None


def _local_path(model: str) -> Path | None:
    """``model`` as a path that exists here; None when it is not one (a 5,000-character name
    or ``~nouser`` is no path, and must not be an OSError)."""
    try:
        path = Path(model).expanduser()
        return path if path.exists() else None
    except (OSError, RuntimeError):
        return None


def local_model_dir(model: str) -> Path | None:
    """The directory of ``model``'s files when it is on this machine (no torch, no network)."""
    source = _local_source(model)
    return None if source is None else _model_dir(source)


def local_model_identity(model: str, *, device: str, fast: bool) -> str | None:
    """Which model ``model`` would load as with these options, from its local files alone.

    No torch, no network: None when the model is not on this machine. The embedding cache
    keys on it to find a corpus's vectors without loading the model (see
    :func:`dedup.represent.cache.cached_vectors`).
    """
    source = _local_source(model)
    if source is None:
        return None
    return "\n".join((model, weights_identity(source), device.strip().lower(), f"fast={fast}"))


def weights_identity(source: str) -> str:
    """A digest naming the model files loaded from ``source``: each file's path, size, mtime.

    Replacing or retraining the weights in place changes it; copying the same directory
    elsewhere keeps it only if the copy keeps the times. When the files cannot be found, the
    source itself is the identity.
    """
    digest = hashlib.sha256(source.encode())
    directory = _model_dir(source)
    if directory is not None:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            stat = path.stat()  # a hub snapshot's symlinks are followed to their blobs
            digest.update(f"\n{relative.as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class SentenceTransformerEncoder:
    """An :class:`Encoder` backed by a sentence-transformers model.

    ``model`` is a local directory or a model name on the Hugging Face hub (used from the local
    cache when present; see :func:`load_encoder`). ``prefix=None`` picks the prefix with
    :func:`choose_prefix`; the chosen one is kept in :attr:`prefix`. On CUDA the model runs in
    fp16. With ``fast=True`` on the CPU, the transformer runs as an int8 ONNX export with
    onnxruntime (see :mod:`dedup.represent.onnx`); elsewhere ``fast`` changes nothing. Progress bars
    and loading chatter appear only with ``progress=True``.

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
        self.directory = _model_dir(source)
        identity = weights_identity(source)
        if fast and self.device == "cpu":
            from dedup.represent.onnx import use_onnx_int8

            with _quiet(not progress):
                use_onnx_int8(self.model, model, identity)
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
        self.prefix = choose_prefix(model, self.model.prompts) if prefix is None else prefix

        max_tokens = self.model.max_seq_length
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

        specials = int(self._tokenizer.num_special_tokens_to_add(pair=False))
        prefix_tokens = self.count_tokens([self.prefix])[0] if self.prefix else 0
        #: Tokens left for text in one input once special tokens and the prefix are in.
        self.window = max(1, self.max_tokens - specials - prefix_tokens)
        setup = f"{identity}\n{self.prefix}\n{self.max_tokens}".encode()
        self.fingerprint = f"{model}@{hashlib.sha256(setup).hexdigest()[:16]}/{precision}"

    def __repr__(self) -> str:
        return (
            f"SentenceTransformerEncoder(name={self.name!r}, device={self.device!r}, "
            f"dim={self.dim}, max_tokens={self.max_tokens}, prefix={self.prefix!r}, "
            f"precision={self.precision!r})"
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> FloatArray:
        """Embed ``texts`` with the prefix; rows are float32 with unit norm.

        sentence-transformers sorts the inputs by length before batching (less padding) and
        restores their order, so the rows match ``texts``.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            raw = self.model.encode(
                list(texts),
                prompt=self.prefix,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        except Exception as exc:
            raise ModelError(f"model {self.name} failed while encoding: {one_line(exc)}") from exc
        # Renormalise in float32: on GPU the model's own normalisation ran in fp16.
        return _normalise_rows(np.asarray(raw, dtype=np.float32))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the model's tokens, without special tokens or the prefix."""
        if not texts:
            return []
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


def load_encoder(
    model: str, *, device: str = "auto", progress: bool = False, fast: bool = False
) -> SentenceTransformerEncoder:
    """Load a sentence-transformers model for :func:`embed_articles`.

    A local directory is loaded directly. A hub name is loaded from the local Hugging Face cache
    when it is there, with no network. Otherwise, with ``HF_HUB_OFFLINE`` or
    ``TRANSFORMERS_OFFLINE`` set, or when the hub (``HF_ENDPOINT``) does not answer a short
    connection probe, it fails at once instead of retrying for a minute. Any failure is a
    :class:`ModelError` with a one-line reason and how to fix it; an unknown or unavailable
    ``device`` is an :class:`InputError`. ``fast`` runs the model as int8 ONNX on the CPU,
    exported on first use and cached (see :mod:`dedup.represent.onnx`).
    """
    return SentenceTransformerEncoder(model, device=device, progress=progress, fast=fast)


def encoder_fingerprint(encoder: Encoder) -> str:
    """What an encoder's vectors depend on: its ``fingerprint`` if it has one, else its name."""
    fingerprint = getattr(encoder, "fingerprint", None)
    return fingerprint if isinstance(fingerprint, str) and fingerprint else encoder.name


# --------------------------------------------------------------------------- pooling


def chunk_weight(index: int) -> float:
    """Weight of chunk ``index`` of an article: 1.0 for title+lead, ``0.5 / (1 + k)`` after.

    The k-th body chunk (k = 1, 2, ...) weighs 0.25, 0.167, 0.125, ...; the seven body chunks
    allowed by :data:`MAX_CHUNKS` weigh 0.86 together, less than the title and lead alone.
    """
    return 1.0 if index == 0 else 0.5 / (1 + index)


def _window(encoder: Encoder) -> int:
    # The adapter knows how many tokens its special tokens and prefix take; others do not.
    window = getattr(encoder, "window", None)
    return max(1, int(window) if isinstance(window, int) else int(encoder.max_tokens))


def _split_long(
    text: str, tokens: int, window: int, count: Callable[[Sequence[str]], list[int]]
) -> list[tuple[str, int]]:
    """Cut one sentence longer than the window into pieces that fit, between words if possible."""
    parts = max(2, math.ceil(tokens / window))
    words = text.split()
    if len(words) >= parts:
        size = math.ceil(len(words) / parts)
        groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    else:  # scripts written without spaces
        size = math.ceil(len(text) / parts)
        groups = [text[i : i + size] for i in range(0, len(text), size)]
    pieces: list[tuple[str, int]] = []
    for group, n in zip(groups, count(groups), strict=True):
        if n <= window or len(group) <= 1:
            pieces.append((group, n))
        else:
            pieces.extend(_split_long(group, n, window, count))
    return pieces


def _units(article: Article) -> list[tuple[str, str]]:
    """The article as (separator, sentence) pairs in reading order, the title first."""
    units: list[tuple[str, str]] = []
    for text in (article.title, article.text):
        for paragraph in _PARAGRAPH_RE.split(text):
            sentences = [s.strip() for s in _SENTENCE_RE.split(paragraph) if s.strip()]
            # A chunk drops the separator of its first unit, so the very first one does not matter.
            units.extend((" " if j else "\n\n", s) for j, s in enumerate(sentences))
    return units


def _pack(units: Sequence[tuple[str, str, int]], window: int) -> tuple[list[str], bool]:
    """Fill chunks with whole units in order; returns the chunks and whether the cap cut text."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for separator, text, n in units:
        # One token of slack per join: tokenizers may spend one on the separator.
        cost = n + (1 if current else 0)
        if current and used + cost > window:
            chunks.append("".join(current))
            if len(chunks) == MAX_CHUNKS:
                return chunks, True
            current, used, cost = [], 0, n
        current.append(f"{separator}{text}" if current else text)
        used += cost
    if current:
        chunks.append("".join(current))
    return chunks, False


def article_chunks(encoder: Encoder, articles: Sequence[Article]) -> list[list[str]]:
    """The texts :func:`embed_articles` encodes for each article (see there for the rules)."""
    window = _window(encoder)
    full = [a.full_text for a in articles]
    lengths = encoder.count_tokens(full)
    result: list[list[str]] = [[text] for text in full]
    long_ids = [i for i, n in enumerate(lengths) if n > window]
    if not long_ids:
        return result

    per_article = [_units(articles[i]) for i in long_ids]
    flat = [text for units in per_article for _, text in units]
    counts = iter(encoder.count_tokens(flat))
    capped = 0
    for i, units in zip(long_ids, per_article, strict=True):
        sized: list[tuple[str, str, int]] = []
        for separator, text in units:
            n = next(counts)
            if n <= window:
                sized.append((separator, text, n))
                continue
            for k, (piece, m) in enumerate(_split_long(text, n, window, encoder.count_tokens)):
                sized.append((separator if k == 0 else " ", piece, m))
        chunks, cut = _pack(sized, window)
        result[i] = chunks
        capped += cut
    if capped:
        logger.info(
            "%d article(s) need more than %d chunks of %d tokens: their text past the cap "
            "is not embedded",
            capped,
            MAX_CHUNKS,
            window,
        )
    return result


def embed_articles(
    encoder: Encoder,
    articles: Sequence[Article],
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> FloatArray:
    """One L2-normalised float32 row per article, long articles pooled over chunks.

    An article that fits the model's window (``encoder.window`` when the encoder has it:
    ``max_tokens`` minus special and prefix tokens; else ``max_tokens``) is one chunk: title
    and body. A longer one is cut, in reading order and on sentence and paragraph boundaries
    (a sentence longer than the window between words), into chunks that fit, by the model's
    own token count: the first chunk is the title and lead, the next ones the rest of the body.
    At most :data:`MAX_CHUNKS` chunks are kept; text beyond them is not embedded, and that is
    logged. The article's vector is the weighted mean of its chunk vectors with the weights of
    :func:`chunk_weight` (1.0 for title+lead, then 0.25, 0.167, ...), normalised again, so the
    title and lead decide most of it. All chunks of all articles are encoded in one batched call.
    """
    if not articles:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    chunks = article_chunks(encoder, articles)
    texts = [text for article in chunks for text in article]
    owner = np.repeat(np.arange(len(chunks)), [len(c) for c in chunks])
    weights = np.array(
        [chunk_weight(k) for article in chunks for k in range(len(article))], dtype=np.float32
    )
    logger.debug("embedding %d articles as %d chunks", len(articles), len(texts))
    vectors = encoder.encode(texts, batch_size=batch_size, progress=progress)
    pooled = np.zeros((len(articles), vectors.shape[1]), dtype=np.float32)
    np.add.at(pooled, owner, vectors * weights[:, None])
    return _normalise_rows(pooled)


def _normalise_rows(matrix: FloatArray) -> FloatArray:
    """Unit rows in float32; a zero or non-finite row becomes zeros, never NaN."""
    matrix = np.nan_to_num(matrix.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0)
    return (matrix / safe).astype(np.float32, copy=False)
