"""Hand-made vectors and what to compare groupings by: shared by the link and group tests."""

from __future__ import annotations

import numpy as np

from dedup.group import group
from dedup.link import (
    link_exact,
)
from dedup.represent.similarity import Representations

THRESHOLD = 0.72


FLOOR = 0.36


def dense_reps(vectors: list[list[float]]) -> Representations:
    m = np.asarray(vectors, dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    n = len(m)
    # One language: the tests hand the vectors over as the centred ones too.
    return Representations(
        backend="dense",
        langs=np.zeros(n, dtype=np.int32),
        days=np.full(n, -1),
        dense=m,
        dense_centred=m,
    )


def angle_reps(degrees: list[float]) -> Representations:
    """Unit vectors in a plane: the cosine of two is the cosine of their angle gap."""
    rad = np.radians(degrees)
    return dense_reps(np.stack([np.cos(rad), np.sin(rad)], axis=1).tolist())


def labels_of(reps: Representations, threshold: float) -> list[int]:
    links = link_exact(reps, floor=threshold, block_rows=2)
    return group(reps, links, threshold).tolist()


def reps_of(x: np.ndarray, days: np.ndarray | None = None) -> Representations:
    n = len(x)
    return Representations(
        backend="dense",
        langs=np.zeros(n, dtype=np.int32),
        days=np.full(n, -1) if days is None else days,
        dense=x.astype(np.float32),
    )


def stories(n_stories: int, seed: int = 0, dim: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around story centres (sizes 1..12), topics making stories related."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 13, size=n_stories)
    topics = rng.normal(size=(max(1, n_stories // 10), dim))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    own = rng.normal(size=(n_stories, dim))
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    centres = 0.6 * topics[rng.integers(0, len(topics), n_stories)] + 0.8 * own
    truth = np.repeat(np.arange(n_stories), sizes)
    x = centres[truth] + rng.normal(scale=0.35 / np.sqrt(dim), size=(len(truth), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    perm = rng.permutation(len(truth))
    return x[perm].astype(np.float32), truth[perm]


def partition(labels: np.ndarray, ids: np.ndarray | None = None) -> set[frozenset[int]]:
    ids = np.arange(len(labels)) if ids is None else ids
    return {frozenset(ids[labels == k].tolist()) for k in np.unique(labels)}


def pair_set(links: object, threshold: float) -> set[tuple[int, int]]:
    strong = links.sim >= threshold  # type: ignore[attr-defined]
    return set(zip(links.i[strong].tolist(), links.j[strong].tolist(), strict=True))  # type: ignore[attr-defined]
