"""The Ray engine: the slices of articles the embedding cache lacks, embedded on a Ray cluster.

Ray Data runs the slices through a pool of actors (:func:`ray.data.Dataset.map_batches`), each
holding the same encoder the local engine would load and embedding one slice at a time with
:func:`~dedup.represent.encoder.embed_articles` (the same chunking and pooling, the same slices
as the local engine, so the same vectors). With GPUs in the cluster, one actor per GPU; else
one per CPU. Each slice comes back to the driver as soon as it is done, and
:func:`~dedup.represent.cache.embed_cached` commits it to the cache there. Ray Data restarts an
actor that dies and retries its slice; a run that fails keeps the slices committed before.

Ray is an optional dependency (``pip install 'dedup[ray]'``), imported only when this engine
runs. The cluster's workers need dedup and the model installed, as the driver has them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dedup.errors import EngineError, ModelError, one_line, os_reason
from dedup.models import Article
from dedup.progress import Advance
from dedup.represent.cache import SliceEmbedder
from dedup.represent.encoder import embed_articles

__all__ = [
    "INSTALL_HINT",
    "MODULES",
    "SliceEncoder",
    "actor_count",
    "check_reachable",
    "embed_on_ray",
    "map_on_actors",
    "quiet_data",
    "ray_session",
    "require_ray",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dedup[ray]'"

#: What the engine imports: Ray and the Arrow tables Ray Data keeps its blocks in.
MODULES: tuple[str, ...] = ("ray", "pyarrow")

FloatArray = NDArray[np.float32]


def require_ray() -> None:
    """EngineError (the ``engine`` setting) when Ray Data cannot be imported."""
    missing = [name for name in MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise EngineError(
            f"the ray engine needs Ray Data, which is not installed: {INSTALL_HINT}",
            setting="engine",
        )


class SliceEncoder:
    """A Ray Data actor: loads the model once, then embeds the slices it is given.

    A batch holds slices (``slice``: their numbers, ``articles``: each slice's articles,
    pickled); the result holds, per slice, its number, its vectors (float32 bytes) and the
    precision the model ran in here (empty when the encoder does not say)."""

    def __init__(self, model: str, device: str, fast: bool, batch_size: int) -> None:
        from dedup.represent.transformer import load_encoder

        self.encoder = load_encoder(model, device=device, fast=fast)
        precision = getattr(self.encoder, "precision", None)
        self.precision = precision if isinstance(precision, str) else ""
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = []
        for payload in batch["articles"]:
            articles: list[Article] = pickle.loads(payload)
            made = embed_articles(self.encoder, articles, batch_size=self.batch_size)
            vectors.append(np.ascontiguousarray(made, dtype="<f4").tobytes())
        count = len(vectors)
        return {
            "slice": np.asarray(batch["slice"], dtype=np.int64),
            "vectors": np.array(vectors, dtype=object),
            "precision": np.array([self.precision] * count, dtype=object),
        }


def embed_on_ray(
    model: str,
    *,
    device: str = "auto",
    fast: bool = False,
    batch_size: int = 32,
    address: str | None = None,
) -> SliceEmbedder:
    """A :data:`~dedup.represent.cache.SliceEmbedder` that embeds on the Ray cluster at
    ``address`` (None: ``RAY_ADDRESS`` if set, else a local Ray started for the run and
    stopped after it). A Ray already initialised in this process is used as it is."""
    require_ray()

    def embed(
        slices: Sequence[Sequence[Article]], progress: Advance | None
    ) -> Iterator[tuple[int, FloatArray, str | None]]:
        if not slices:
            return
        with ray_session(address):
            yield from _run(slices, progress, model, device, fast, batch_size)

    return embed


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray for the body: the cluster at ``address`` (None: ``RAY_ADDRESS`` if set, else a local
    Ray started here and stopped after the body); a Ray already initialised in this process is
    used as it is, and left running."""
    require_ray()
    import ray

    if ray.is_initialized():
        yield
        return
    if address is not None:
        check_reachable(address)
    else:
        check_reachable(os.environ.get("RAY_ADDRESS"), variable="RAY_ADDRESS")
    # Ray's C++ core logs its retries on stderr, past logging_level: errors only.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except Exception as exc:
        where = f"at {address}" if address else "(RAY_ADDRESS, else a local one)"
        raise EngineError(
            f"cannot start or reach a Ray cluster {where}: {one_line(exc)}",
            setting="ray_address",
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()


def quiet_data() -> None:
    """Ray Data without its progress bars and start-up lines: the run has its own progress."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def map_on_actors(
    rows: list[dict[str, Any]], worker: type, kwargs: dict[str, Any], actors: int, gpus: int
) -> Any:
    """A Ray dataset of ``rows``, one block each, mapped a row at a time by a pool of
    ``actors`` ``worker(**kwargs)`` actors (a GPU each when ``gpus``, else a CPU each; see
    :func:`actor_count`), Ray Data kept quiet."""
    import ray.data

    quiet_data()
    return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        worker,
        batch_size=1,
        batch_format="numpy",
        fn_constructor_kwargs=kwargs,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if gpus else None,
        num_cpus=None if gpus else 1,
    )


def actor_count(work: int) -> tuple[int, int]:
    """The actors for ``work`` items: one per GPU when the cluster has GPUs, else one per CPU,
    never more than the items; and the GPUs each one takes (1, or 0 without GPUs)."""
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus = int(resources.get("GPU", 0))
    return max(1, min(work, gpus or max(1, int(resources.get("CPU", 1))))), 1 if gpus else 0


#: Seconds to wait for a cluster's port to answer before calling it unreachable.
CONNECT_TIMEOUT = 5.0


def check_reachable(address: str | None, *, variable: str | None = None) -> None:
    """EngineError when the cluster at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``) does
    not accept a connection within :data:`CONNECT_TIMEOUT` seconds: ``ray.init`` would retry
    it for minutes, logging each try. Other addresses (None, ``auto``, ``local``) are left to
    Ray. The error names ``variable`` when the address came from it, else the ``ray_address``
    setting."""
    if not address:
        return
    host, sep, port = address.strip().removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else os_reason(exc)
        where = f"{address} ({variable})" if variable else address
        raise EngineError(
            f"cannot reach the Ray cluster at {where}: {reason}",
            setting=None if variable else "ray_address",
        ) from exc


def _run(
    slices: Sequence[Sequence[Article]],
    progress: Advance | None,
    model: str,
    device: str,
    fast: bool,
    batch_size: int,
) -> Iterator[tuple[int, FloatArray, str | None]]:
    import ray

    actors, gpus = actor_count(len(slices))
    log.info("ray: %d slices on %d %s actor(s)", len(slices), actors, "GPU" if gpus else "CPU")
    rows = [
        {"slice": number, "articles": pickle.dumps(list(part), protocol=5)}
        for number, part in enumerate(slices)
    ]
    kwargs = {"model": model, "device": device, "fast": fast, "batch_size": batch_size}
    dataset = map_on_actors(rows, SliceEncoder, kwargs, actors, gpus)
    try:
        for row in dataset.iter_rows():
            number = int(row["slice"])
            count = len(slices[number])
            vectors = np.frombuffer(row["vectors"], dtype="<f4").astype(np.float32)
            vectors = vectors.reshape(count, -1) if count else vectors.reshape(0, 0)
            if progress is not None:
                progress(count)
            yield number, vectors, str(row["precision"]) or None
    except ray.exceptions.RayError as exc:
        raise ModelError(f"the Ray cluster failed to embed: {one_line(exc)}") from exc
