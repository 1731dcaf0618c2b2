"""Where a model's files are, and what names them, without torch: a local directory, the
Hugging Face cache, or the hub when it answers a short connection probe (never waited on when
offline), and the digest of those files that tells one set of weights from another.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dedup.config import NEWS_MODEL, cache_root
from dedup.errors import ModelError, one_line
from dedup.represent import bundled
from dedup.represent.tuned import NOTE as TUNED_NOTE
from dedup.represent.tuned import SHIPPED

__all__ = [
    "DEFAULT_ENDPOINT",
    "HUB_PROBE_TIMEOUT",
    "hub_cache_folder",
    "local_model_dir",
    "local_model_identity",
    "model_source",
    "source_dir",
    "weights_identity",
]

#: Seconds allowed for resolving and connecting to the model hub before giving up.
HUB_PROBE_TIMEOUT = 3.0

DEFAULT_ENDPOINT = "https://huggingface.co"

_TRUE = {"1", "on", "yes", "true"}


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _offline() -> bool:
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def hub_cache_folder() -> str | None:
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
            snapshot_download(repo, local_files_only=True, cache_dir=hub_cache_folder())
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


def model_source(model: str) -> tuple[str, bool]:
    """Where ``model`` loads from, and whether from local files only: a local directory, a hub
    name complete in the local cache, or, when the hub answers, the hub name to download.

    A :class:`ModelError` saying how to fix it when it is none of these. The bundled model is
    not looked for here: it is converted on first use (see :mod:`dedup.represent.transformer`).
    """
    path = _local_path(model)
    if path is not None:
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
    return source, local_only


def source_dir(source: str) -> Path | None:
    """The local directory holding the files of a model loaded from ``source``."""
    path = Path(source)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, local_files_only=True, cache_dir=hub_cache_folder()))
    except Exception:
        return None


def _local_source(model: str) -> str | None:
    """What ``model`` would load from, from local files alone: a local directory, a hub name
    complete in the local cache, or the bundled model once converted; else None."""
    path = _local_path(model)
    if model == NEWS_MODEL:  # the adapter's files; its base must be here too
        return str(SHIPPED) if _local_source(bundled.BUNDLED_MODEL) else None
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
    return None if source is None else source_dir(source)


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
    directory = source_dir(source)
    if directory is not None:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            if relative.as_posix() == TUNED_NOTE:  # its calibration does not change a vector
                continue
            stat = path.stat()  # a hub snapshot's symlinks are followed to their blobs
            digest.update(f"\n{relative.as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
