"""Average linkage on links (:func:`agglomerate`), the loop :mod:`dedup.group` and the story
store's assignment share. Arrays in, a parent per group out.

Two groups merge while the mean similarity of all their cross pairs reaches the threshold,
best mean first. The known part of each group pair's sum is carried as one entry and merging
adds entries, so a merge costs the merged group's neighbours, not its articles. A pair that
is not a link is either bounded by the floor it was not found above and scored on demand
(``cross_sum``: the general loop, in Python, since the scorer is Python) or counted as 0 (the
zero rule, which the pipeline uses for components too big to score; the loop then runs
compiled, numba, its state in typed dicts and one heap: on the 10^5 bench corpus, 84,000
nodes and 2.5 million links, grouping took 7.9 CPU-s and 895 MiB instead of 29.1 and 1,289
with the same loop over Python objects, the stories the same). Both take the same merges in
the same order: entries are ordered by ``(-mean, a, b)``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
from numba import njit, types
from numba.typed import Dict, List

from dedup.represent.similarity import Representations

Array = np.ndarray

# Merges at a mean >= threshold - AT_THRESHOLD: a tiny epsilon keeps "at the threshold" inside.
AT_THRESHOLD = 1e-9

#: ``cross_sum(a, b)``: the sum of the similarities of every pair of a node of ``a`` and a node
#: of ``b`` (node indices), each pair weighed by the articles its two nodes stand for.
CrossSum = Callable[[Array, Array], float]


def pair_scorer(reps: Representations, rows: Array, weights: Array) -> CrossSum:
    """``cross_sum`` for nodes that stand for the articles ``rows`` of ``reps``, node ``k``
    weighing ``weights[k]`` articles: every cross pair scored by the run's similarity."""
    w = np.asarray(weights, dtype=np.float64)

    def cross_sum(a: Array, b: Array) -> float:
        ii, jj = np.repeat(a, len(b)), np.tile(b, len(a))
        sims = reps.pairs(rows[ii], rows[jj]).astype(np.float64)
        return float(sims @ (w[ii] * w[jj]))

    return cross_sum


_ENTRIES = types.DictType(types.int64, types.complex128)  # type: ignore[no-untyped-call]


def roots(parent: list[int]) -> Array:
    """Each group's surviving group: parents point to smaller numbers, so one pass in order
    resolves them."""
    root = np.arange(len(parent))
    for x, p in enumerate(parent):
        root[x] = root[p]
    return root


def agglomerate(
    start: Array,
    weights: Array,
    i: Array,
    j: Array,
    sims: Array,
    threshold: float,
    floor: float,
    cross_sum: CrossSum | None,
) -> list[int]:
    """Average linkage of nodes ``0..m-1`` from the groups ``start`` (node -> group
    ``0..g-1``), cut at ``threshold``: the parent of each group (the group with the smaller
    number survives a merge; a group that never merged is its own parent).

    ``i, j, sims``: the links between nodes, each pair once. ``weights[a]``: how many articles
    node ``a`` stands for. A pair of nodes that is not a link is taken to lie below ``floor``:
    two groups' mean is bounded with ``floor`` in place of their unknown pairs, and when the
    bound reaches the threshold, ``cross_sum`` scores all their pairs (after which their mean
    is exact: merging adds exact sums). Without ``cross_sum``, an unknown pair counts as 0.
    Groups merge best mean first while it reaches the threshold; ties go to the pair of
    groups with the smaller numbers.
    """
    w = np.asarray(weights, dtype=np.float64)
    n_groups = int(start.max()) + 1 if len(start) else 0
    size = np.bincount(start, weights=w, minlength=n_groups).tolist()
    a_of, b_of = start[i], start[j]
    keep = a_of != b_of
    lo, hi = np.minimum(a_of, b_of)[keep], np.maximum(a_of, b_of)[keep]
    pair_w = (w[i] * w[j])[keep]
    key = lo.astype(np.int64) * n_groups + hi
    uniq, at = np.unique(key, return_inverse=True)
    sums = np.bincount(at, weights=sims[keep] * pair_w, minlength=len(uniq))
    counts = np.bincount(at, weights=pair_w, minlength=len(uniq))
    cut = threshold - AT_THRESHOLD
    if cross_sum is None:  # nothing to call back: the loop compiled, its state in arrays
        ga, gb = np.divmod(uniq, n_groups)
        found = _zero_rule(n_groups, np.asarray(size), ga, gb, sums, counts, cut)
        return list(found.tolist())
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for node, g in enumerate(start.tolist()):
        members[g].append(node)
    # known[a][b]: the sum of the known cross similarities + 1j x the weighted count of known
    # pairs (one complex: a small object a million links can afford, and merging adds them)
    known: list[dict[int, complex]] = [{} for _ in range(n_groups)]
    for k, total, count in zip(uniq.tolist(), sums.tolist(), counts.tolist(), strict=True):
        a, b = divmod(k, n_groups)
        known[a][b] = known[b][a] = complex(total, count)
    unknown_at = floor

    def bound(a: int, b: int, entry: complex) -> tuple[float, bool]:
        pairs = size[a] * size[b]
        missing = pairs - entry.imag
        exact = missing < 0.5
        return (entry.real + max(missing, 0.0) * unknown_at) / pairs, exact

    version = [0] * n_groups
    heap: list[tuple[float, int, int, int, int, bool]] = []
    for a in range(n_groups):
        for b, entry in known[a].items():
            if a < b:
                value, exact = bound(a, b, entry)
                if value >= cut:
                    heap.append((-value, a, b, 0, 0, exact))
    heapq.heapify(heap)
    parent = list(range(n_groups))
    while heap:
        neg, a, b, va, vb, exact = heapq.heappop(heap)
        if va != version[a] or vb != version[b] or parent[a] != a or parent[b] != b:
            continue  # stale: one of the two groups has changed since this entry
        if -neg < cut:
            break  # the best bound left is below the threshold: so is every mean
        if not exact:
            pairs = size[a] * size[b]
            total = cross_sum(np.asarray(members[a]), np.asarray(members[b]))
            known[a][b] = known[b][a] = complex(total, pairs)
            value = total / pairs
            if value >= cut:
                heapq.heappush(heap, (-value, a, b, va, vb, True))
            continue
        # a < b: the smaller number survives
        if len(known[a]) < len(known[b]):
            known[a], known[b] = known[b], known[a]
        merged, other = known[a], known[b]
        merged.pop(a, None)
        merged.pop(b, None)
        for c, entry in other.items():
            if c in (a, b):
                continue
            merged[c] = merged.get(c, 0j) + entry
        known[b] = {}
        if len(members[a]) < len(members[b]):
            members[a], members[b] = members[b], members[a]
        members[a] += members[b]
        members[b] = []
        parent[b] = a
        size[a] += size[b]
        version[a] += 1
        size_a, version_a = size[a], version[a]
        for c, entry in merged.items():  # the hot loop: bound() written out
            neighbour = known[c]
            neighbour.pop(b, None)
            neighbour[a] = entry
            pairs = size_a * size[c]
            missing = pairs - entry.imag
            value = (entry.real + max(missing, 0.0) * unknown_at) / pairs
            if value >= cut:
                exact = missing < 0.5
                if a < c:
                    heapq.heappush(heap, (-value, a, c, version_a, version[c], exact))
                else:
                    heapq.heappush(heap, (-value, c, a, version[c], version_a, exact))
    return parent


@njit(cache=True)
def _zero_rule(
    n_groups: int, size: Array, ga: Array, gb: Array, sums: Array, counts: Array, cut: float
) -> Array:  # pragma: no cover - compiled; agglomerate's tests run it
    """:func:`agglomerate`'s loop with every unknown pair at 0, over groups ``0..n_groups-1``
    of ``size`` articles and the known sums and weighted counts of the group pairs
    ``ga < gb``: the parent of each group."""
    known = List.empty_list(_ENTRIES)
    for _ in range(n_groups):
        known.append(Dict.empty(types.int64, types.complex128))
    for k in range(len(ga)):
        entry = complex(sums[k], counts[k])
        known[ga[k]][gb[k]] = entry
        known[gb[k]][ga[k]] = entry
    version = np.zeros(n_groups, np.int64)
    parent = np.arange(n_groups)
    heap = [(0.0, 0, 0, 0, 0)]  # typed by its first entry
    heap.pop()
    for k in range(len(ga)):
        value = sums[k] / (size[ga[k]] * size[gb[k]])
        if value >= cut:
            heap.append((-value, ga[k], gb[k], 0, 0))
    heapq.heapify(heap)
    while len(heap):
        neg, a, b, va, vb = heapq.heappop(heap)
        if va != version[a] or vb != version[b] or parent[a] != a or parent[b] != b:
            continue  # stale
        if -neg < cut:
            break
        if len(known[a]) < len(known[b]):  # the bigger dict is kept, the smaller added to it
            smaller = known[a]
            known[a] = known[b]
            known[b] = smaller
        merged, other = known[a], known[b]
        merged.pop(a, 0j)
        merged.pop(b, 0j)
        for c, entry in other.items():
            if c != a and c != b:
                merged[c] = merged.get(c, 0j) + entry
        known[b] = Dict.empty(types.int64, types.complex128)
        parent[b] = a
        size[a] += size[b]
        version[a] += 1
        for c, entry in merged.items():
            neighbour = known[c]
            neighbour.pop(b, 0j)
            neighbour[a] = entry
            value = entry.real / (size[a] * size[c])
            if value >= cut:
                if a < c:
                    heapq.heappush(heap, (-value, a, c, version[a], version[c]))
                else:
                    heapq.heappush(heap, (-value, c, a, version[c], version[a]))
    return parent
