"""Which story each new article joins: average linkage that starts from the stories already
made. Arrays in, arrays out; no I/O.

A batch run starts average linkage from one group per article. The store starts it from the
open stories as they are (their members never leave them: ids stay stable) and one group per
new article, and merges, best pair first, while the mean similarity of all cross pairs of two
groups reaches the threshold, exactly the batch rule. So a new article joins the story whose
members it is closest to on average when that mean passes the threshold; new articles that
bridge two stories merge them only when the merged story passes it too; and new articles
that reach no story make new ones. Two open stories whose mean similarity reaches the
threshold under this run's corpus statistics (the IDF of the new and open articles) merge too:
a story told first by two articles too short to meet is joined once more of it is known, as
a batch run over everything would have it. As in :mod:`dedup.group`, only groups joined by a
chain of links at or above the threshold can merge (a mean never exceeds its largest term), so
the work runs per connected component, and only in components of two groups or more: the rest
of the store is left as it is.

Ties go to the pair of groups with the smaller keys: an existing story's key is its number (so
the older story survives a merge), a new group's is :data:`NEW` plus the canonical index of
its first article. The result depends on the set of articles, never on their order.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from dedup.link import Links
from dedup.linkage import agglomerate, pair_scorer, roots
from dedup.represent.similarity import Representations

Array = np.ndarray

#: Keys of groups that are no stored story start here (story numbers stay far below).
NEW = 1 << 40
#: The start key of an article the store does not hold yet.
UNSTORED = -1


def assign(
    reps: Representations,
    links: Links,
    threshold: float,
    copy_of: Array,
    start: Array,
    *,
    floor: float | None = None,
) -> tuple[Array, dict[int, list[int]]]:
    """The group key of each article after average linkage from ``start``, and the stories
    merged: ``{survivor: [absorbed, ...]}``.

    ``start[k]`` is the number of the stored story article ``k`` is in, or :data:`UNSTORED`.
    ``copy_of``, ``links`` and ``floor`` as for :func:`dedup.group.group`: links join first
    copies only, and an exact copy goes where its first goes (to a stored copy's story when
    there is one).
    """
    n = reps.n
    copy_of = np.asarray(copy_of, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    key = _node_keys(copy_of, start)
    # Articles that take part: every new one, and stored ones in their node's story (a stored
    # copy filed in another story stays there).
    node_key = key[copy_of]
    joins = (start == UNSTORED) | (start == node_key)
    weight = np.bincount(copy_of[joins], minlength=n).astype(np.float64)
    nodes = np.flatnonzero((copy_of == np.arange(n)) & (weight > 0))
    component = _components(n, nodes, key, links, threshold)
    final = key.copy()
    merged: dict[int, list[int]] = {}
    # Only a component of two groups or more can change: one with a new article, or two open
    # stories that this run's corpus statistics bring together.
    by_component = sorted(zip(component[nodes].tolist(), key[nodes].tolist(), strict=True))
    groups: dict[int, set[int]] = {}
    for comp, k in by_component:
        groups.setdefault(comp, set()).add(k)
    for comp in sorted(c for c, ks in groups.items() if len(ks) > 1):
        members = nodes[component[nodes] == comp]
        result, absorbed = _link_component(
            reps, links, threshold, threshold if floor is None else min(floor, threshold),
            members, key, weight,
        )  # fmt: skip
        final[members] = result
        for survivor, gone in absorbed.items():
            merged.setdefault(survivor, []).extend(gone)
    out = np.where(joins, final[copy_of], start)
    return out, {s: sorted(g) for s, g in merged.items()}


def _node_keys(copy_of: Array, start: Array) -> Array:
    """Per first copy, the key of the group it starts in: its own story, else a stored
    copy's story (the first), else a new group of its own."""
    n = len(copy_of)
    key = np.where(start != UNSTORED, start, NEW + np.arange(n))
    stored_copies = np.flatnonzero((start != UNSTORED) & (copy_of != np.arange(n)))
    for k in stored_copies[::-1].tolist():  # the first stored copy is written last
        first = int(copy_of[k])
        if start[first] == UNSTORED:
            key[first] = start[k]
    return key


def _components(n: int, nodes: Array, key: Array, links: Links, threshold: float) -> Array:
    """Connected components of the nodes: joined by links at or above the threshold, and by
    being in one stored story."""
    strong = links.sim >= threshold
    i, j = [links.i[strong]], [links.j[strong]]
    order = nodes[np.argsort(key[nodes], kind="stable")]
    same = key[order[1:]] == key[order[:-1]]
    i.append(order[1:][same])
    j.append(order[:-1][same])
    rows, cols = np.concatenate(i), np.concatenate(j)
    graph = sp.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    return np.asarray(component, dtype=np.int64)


def _link_component(
    reps: Representations,
    links: Links,
    threshold: float,
    floor: float,
    members: Array,
    key: Array,
    weight: Array,
) -> tuple[Array, dict[int, list[int]]]:
    """Average linkage over one component's nodes from their start groups (dedup.linkage's
    :func:`~dedup.linkage.agglomerate`): each node's final key, and the start keys each
    survivor absorbed."""
    keys, at = np.unique(key[members], return_inverse=True)
    w = weight[members]
    inside = np.isin(links.i, members) & np.isin(links.j, members)

    parent = agglomerate(
        at,
        w,
        np.searchsorted(members, links.i[inside]),
        np.searchsorted(members, links.j[inside]),
        links.sim[inside],
        threshold,
        floor,
        pair_scorer(reps, members, w),
    )
    root = roots(parent)  # each start group's survivor
    absorbed: dict[int, list[int]] = {}
    for g, r in enumerate(root):
        if r != g and keys[g] < NEW:
            absorbed.setdefault(int(keys[r]), []).append(int(keys[g]))
    return keys[root[at]], absorbed
