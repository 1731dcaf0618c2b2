"""Link articles and group them into stories. Arrays in, arrays out; no I/O.

Grouping is average-linkage agglomeration cut at the threshold: two groups merge only while
the *mean* similarity of all their cross pairs reaches the threshold, so a chain A~B~C cannot
glue A to an unrelated C through B. Since a mean never exceeds the largest term, every story
lies inside one connected component of the graph of links at or above the threshold; so the
linkage runs per component, on that component's exact similarity matrix.

The input order never matters: the pipeline sorts articles canonically first, and ties are
broken by that order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from dedup.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray

BLOCK_ROWS = 256


@dataclass(frozen=True)
class Links:
    """Pairs ``i < j`` whose similarity reached the lower (related) threshold."""

    i: Array
    j: Array
    sim: Array


def link_exact(reps: Representations, floor: float, block_rows: int = BLOCK_ROWS) -> Links:
    """Every pair at or above ``floor``, by blocks of rows: memory O(block_rows x n)."""
    n = reps.n
    found_i: list[Array] = []
    found_j: list[Array] = []
    found_s: list[Array] = []
    for start in range(0, n, block_rows):
        rows = np.arange(start, min(n, start + block_rows))
        sims = reps.block(rows)
        r, c = np.nonzero(sims >= floor)
        keep = rows[r] < c
        found_i.append(rows[r][keep])
        found_j.append(c[keep])
        found_s.append(sims[r[keep], c[keep]])
    if not found_i:
        empty = np.zeros(0, dtype=np.int64)
        return Links(empty, empty, np.zeros(0, dtype=np.float32))
    return Links(
        np.concatenate(found_i).astype(np.int64),
        np.concatenate(found_j).astype(np.int64),
        np.concatenate(found_s).astype(np.float32),
    )


def group(reps: Representations, links: Links, threshold: float) -> Array:
    """A story label per article (0..k-1, numbered by each story's first article)."""
    n = reps.n
    strong = links.sim >= threshold
    graph = sp.coo_matrix(
        (np.ones(int(strong.sum()), dtype=np.int8), (links.i[strong], links.j[strong])),
        shape=(n, n),
    )
    _, component = connected_components(graph, directed=False)
    labels = np.full(n, -1, dtype=np.int64)
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    for members in np.split(order, bounds):
        members = np.sort(members)
        if len(members) == 1:
            labels[members] = members[0]
            continue
        for sub in _average_linkage(reps.matrix(members), threshold):
            labels[members[sub]] = members[sub].min()
    # Renumber by first article so labels do not depend on component numbering.
    _, dense_labels = np.unique(labels, return_inverse=True)
    return np.asarray(dense_labels, dtype=np.int64)


def _average_linkage(sims: Array, threshold: float) -> list[Array]:
    """Index groups of one component under average linkage cut at ``threshold``."""
    distance = np.clip(1.0 - sims.astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    # fcluster keeps merges at height <= t; a tiny epsilon keeps "at the threshold" inside.
    flat = fcluster(tree, t=1.0 - threshold + 1e-9, criterion="distance")
    return [np.flatnonzero(flat == k) for k in np.unique(flat)]


@dataclass(frozen=True)
class Group:
    """One story before it meets the articles: indices most central first.

    ``sims`` is the members' similarity matrix, rows and columns ordered like ``members``.
    """

    members: Array
    centre_similarity: Array
    cohesion_min: float | None
    cohesion_mean: float | None
    sims: Array


def describe(reps: Representations, labels: Array) -> list[Group]:
    """Order each group's members by centrality; measure its cohesion."""
    groups: list[Group] = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        if len(members) == 1:
            one = np.ones(1, dtype=np.float32)
            groups.append(Group(members, one, None, None, one.reshape(1, 1)))
            continue
        sims = reps.matrix(members)
        off = sims[~np.eye(len(members), dtype=bool)]
        # The medoid: highest mean similarity to the others; ties go to the earlier article.
        centrality = (sims.sum(axis=1) - 1.0) / (len(members) - 1)
        medoid = int(np.argmax(centrality))
        to_centre = sims[medoid]
        order = np.lexsort((members, -to_centre))
        groups.append(
            Group(
                members[order],
                to_centre[order].astype(np.float32),
                float(off.min()),
                float(off.mean()),
                sims[np.ix_(order, order)].astype(np.float32),
            )
        )
    return groups


def related_pairs(
    reps: Representations, labels: Array, links: Links, floor: float, threshold: float
) -> list[tuple[int, int, float]]:
    """Label pairs whose mean cross similarity is at least ``floor`` (and below ``threshold``)."""
    a = labels[links.i]
    b = labels[links.j]
    candidates = sorted(
        {(int(min(x, y)), int(max(x, y))) for x, y in zip(a, b, strict=True) if x != y}
    )
    out: list[tuple[int, int, float]] = []
    for x, y in candidates:
        left = np.flatnonzero(labels == x)
        right = np.flatnonzero(labels == y)
        ii, jj = np.meshgrid(left, right, indexing="ij")
        mean = float(reps.pairs(ii.ravel(), jj.ravel()).mean())
        if floor <= mean < threshold:
            out.append((x, y, mean))
    return out


def story_order(groups: Sequence[Group], keys: Sequence[tuple[object, ...]]) -> list[int]:
    """Indices of ``groups`` in report order: larger first, then by the given tie keys."""
    return sorted(range(len(groups)), key=lambda g: (-len(groups[g].members), keys[g]))
