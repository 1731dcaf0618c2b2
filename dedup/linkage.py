"""Average linkage on links (:func:`agglomerate`), the loop :mod:`dedup.group` and the story
store's assignment share, and its compiled twin for big components (:func:`zero_rule`).
Arrays in, a parent (or root) per group out.

Two groups merge while the mean similarity of all their cross pairs reaches the threshold,
best mean first. The known part of each group pair's sum is carried as one entry and merging
adds entries, so a merge costs the merged group's neighbours, not its articles. A pair that
is not a link is either bounded by the floor it was not found above and scored on demand
(``cross_sum``: the general loop, in Python, since the scorer is Python) or counted as 0 (the
zero rule, which the pipeline uses for components too big to score; the loop then runs
compiled, numba, over the links in place, a dict only for the groups that merged and one
heap). Both take the same merges in the same order: entries are ordered by ``(-mean, a, b)``
(what each costs: docs/benchmarks.md).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
from numba import njit, types
from numba.typed import Dict, List

from dedup.link.pairs import AnyLinks
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


def roots(parent: list[int]) -> Array:
    """Each group's surviving group: parents point to smaller numbers, so one pass in order
    resolves them."""
    return _resolved(np.array(parent, dtype=np.int64))  # type: ignore[no-any-return]


@njit(cache=True)
def _resolved(root: Array) -> Array:  # pragma: no cover - compiled
    """``root`` (each entry a smaller number or itself) pointing at the ends of its chains,
    in place: one pass in order, since an entry's parent is resolved before it."""
    for x in range(len(root)):
        root[x] = root[root[x]]
    return root


def agglomerate(
    start: Array,
    weights: Array,
    i: Array,
    j: Array,
    sims: Array,
    threshold: float,
    floor: float,
    cross_sum: CrossSum,
) -> list[int]:
    """Average linkage of nodes ``0..m-1`` from the groups ``start`` (node -> group
    ``0..g-1``), cut at ``threshold``: the parent of each group (the group with the smaller
    number survives a merge; a group that never merged is its own parent).

    ``i, j, sims``: the links between nodes, each pair once. ``weights[a]``: how many articles
    node ``a`` stands for. A pair of nodes that is not a link is taken to lie below ``floor``:
    two groups' mean is bounded with ``floor`` in place of their unknown pairs, and when the
    bound reaches the threshold, ``cross_sum`` scores all their pairs (after which their mean
    is exact: merging adds exact sums). :func:`zero_rule` is the same loop with every unknown
    pair at 0.
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


def zero_rule(
    weights: Array,
    links: AnyLinks,
    threshold: float,
    node_of: Array | None = None,
    component: Array | None = None,
) -> Array:
    """:func:`agglomerate` from single nodes with every pair that is not a link counted as 0,
    compiled: each node's root (the smallest node of its group).

    ``links``: each pair once, read a chunk at a time (in memory or on disk alike). With
    ``node_of``, their ends are article numbers, ``node_of[x]`` is article ``x``'s node (-1:
    not one), and only links between two nodes count, and with ``component`` too only those
    inside one component: so a caller passes the run's links as they are, not a filtered copy.

    Its memory is the links once (both ways, 16 bytes each) plus a dict for each group that
    has merged, its sums with the groups it is linked to, summed under each other group's
    current number only when it merges again (a sum is the same whichever way it is added).
    """
    if node_of is None:
        node_of = np.arange(len(weights))
    if component is None:
        component = np.zeros(len(node_of), dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    # Node a's links, both ways: other[start[a]:start[a + 1]]; counted, then placed.
    start = np.zeros(len(w) + 1, np.int64)
    other, sim = np.empty(0, np.int32), np.empty(0, np.float32)
    for place in (False, True):
        if place:
            start = np.cumsum(start)
            other, sim = np.empty(start[-1], np.int32), np.empty(start[-1], np.float32)
        at = start[:-1].copy() if place else start
        for c in links.chunks():
            _node_ends(at, other, sim, node_of, component, c.i, c.j, c.sim, place)
    _best_first(w, start, other, sim)
    return _zero_rule(w, start, other, sim, threshold - AT_THRESHOLD)  # type: ignore[no-any-return]


def within(node_of: Array, component: Array, links: AnyLinks) -> tuple[Array, Array, Array]:
    """The links between two nodes of one component, as node numbers (``node_of`` as for
    :func:`zero_rule`): each chunk read in two passes, so that nothing of the links' length
    is made but the result."""
    found = [_within(node_of, component, c.i, c.j, c.sim) for c in links.chunks()]
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    li, lj, sims = (np.concatenate(column) for column in zip(none, *found, strict=True))
    return li, lj, sims


@njit(cache=True)
def _ends(
    node_of: Array, component: Array, i: Array, j: Array, k: int
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Link ``k``'s two nodes, or -1, -1 when it is not between two nodes of one component."""
    a, b = node_of[i[k]], node_of[j[k]]
    if a >= 0 and b >= 0 and a != b and component[i[k]] == component[j[k]]:
        return a, b
    return -1, -1


@njit(cache=True)
def _within(
    node_of: Array, component: Array, i: Array, j: Array, sims: Array
) -> tuple[Array, Array, Array]:  # pragma: no cover - compiled
    count = 0
    for k in range(len(i)):
        count += _ends(node_of, component, i, j, k)[0] >= 0
    li, lj = np.empty(count, np.int64), np.empty(count, np.int64)
    out = np.empty(count, sims.dtype)
    at = 0
    for k in range(len(i)):
        a, b = _ends(node_of, component, i, j, k)
        if a >= 0:
            li[at], lj[at], out[at] = a, b, sims[k]
            at += 1
    return li, lj, out


def components(copy_of: Array, links: AnyLinks, threshold: float) -> Array:
    """Each article's connected component (numbered by its smallest article) in the graph of
    the links at or above ``threshold`` and of each copy to its original (``copy_of[x]``):
    a union-find over the links a chunk at a time, nothing of their length made. A link is
    compared with the threshold in its own precision, as ``sims >= threshold`` compares."""
    root = np.arange(len(copy_of), dtype=np.int64)
    _join_copies(root, np.asarray(copy_of, dtype=np.int64))
    for part in links.chunks():
        _join_strong(root, part.i, part.j, part.sim, part.sim.dtype.type(threshold))
    return _resolved(root)  # type: ignore[no-any-return]  # roots: their components' smallest


@njit(cache=True)
def _join_copies(root: Array, copy_of: Array) -> None:  # pragma: no cover - compiled
    for x in range(len(copy_of)):
        _join(root, x, copy_of[x])


@njit(cache=True)
def _join_strong(
    root: Array, i: Array, j: Array, sims: Array, threshold: float
) -> None:  # pragma: no cover - compiled
    for k in range(len(i)):
        if sims[k] >= threshold:
            _join(root, i[k], j[k])


@njit(cache=True)
def _join(root: Array, x: int, y: int) -> None:  # pragma: no cover - compiled
    """One component of ``x``'s and ``y``'s, under the smaller root."""
    rx, ry = _find(root, x), _find(root, y)
    if rx < ry:
        root[ry] = rx
    elif ry < rx:
        root[rx] = ry


_SUMS = types.DictType(types.int64, types.float64)  # type: ignore[no-untyped-call]
# The heap is filtered of entries that went stale once it holds this many, and then once it
# holds twice what survived: each merge pushes one entry a neighbour, and most go stale.
HEAP_FILTER_AT = 1 << 20


@njit(cache=True)
def _find(root: Array, x: int) -> int:  # pragma: no cover - compiled
    r = x
    while root[r] != r:
        r = root[r]
    while root[x] != r:  # the walked path points at the root from now on
        up = root[x]
        root[x] = r
        x = up
    return r


@njit(cache=True)
def _pair_mean(w: Array, a: int, b: int, sim: float) -> float:  # pragma: no cover - compiled
    """The mean of two single nodes joined by a link: its sum over its weighed pair count, the
    same arithmetic as a group pair's (so that ties fall alike)."""
    return _pair_sum(w, a, b, sim) / (w[a] * w[b])  # type: ignore[no-any-return]


@njit(cache=True)
def _pair_sum(w: Array, a: int, b: int, sim: float) -> float:  # pragma: no cover - compiled
    """A link's part of its two groups' sum: its similarity weighed by the articles of both."""
    return np.float64(sim) * (w[a] * w[b])  # type: ignore[no-any-return]


@njit(cache=True)
def _node_ends(
    at: Array, other: Array, sim: Array, node_of: Array, component: Array, i: Array, j: Array,
    sims: Array, place: bool,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """These links both ways: counted (node ``a``'s in ``at[a + 1]``), or with ``place`` put
    at each node's next place (node ``a``'s at ``at[a]``)."""
    for k in range(len(i)):
        a, b = _ends(node_of, component, i, j, k)
        if a >= 0 and not place:
            at[a + 1] += 1
            at[b + 1] += 1
        elif a >= 0:
            other[at[a]], sim[at[a]] = b, sims[k]
            other[at[b]], sim[at[b]] = a, sims[k]
            at[a] += 1
            at[b] += 1


@njit(cache=True)
def _best_first(w: Array, start: Array, other: Array, sim: Array) -> None:  # pragma: no cover
    """Each node's links best first: by falling mean, then rising other node."""
    for a in range(len(w)):
        lo, hi = start[a], start[a + 1]
        if hi - lo < 2:
            continue
        order = np.argsort(other[lo:hi], kind="mergesort")
        means = np.empty(hi - lo)
        for t in range(hi - lo):
            means[t] = -_pair_mean(w, a, other[lo + order[t]], sim[lo + order[t]])
        order = order[np.argsort(means, kind="mergesort")]
        other[lo:hi], sim[lo:hi] = other[lo:hi][order], sim[lo:hi][order]


@njit(cache=True)
def _push_next_link(
    heap: list[tuple[float, int, int, int, int]],
    at: Array,
    start: Array,
    other: Array,
    sim: Array,
    w: Array,
    a: int,
    cut: float,
) -> None:  # pragma: no cover - compiled
    """Push single node ``a``'s next link to a greater node (``at[a]``: where its links were
    read to), as long as it reaches the cut: one entry a node waits in the heap, not one a
    link."""
    while at[a] < start[a + 1]:
        b = other[at[a]] + 0  # an int64, as the heap's entries hold
        at[a] += 1
        if b > a:
            value = _pair_mean(w, a, b, sim[at[a] - 1])
            if value >= cut:
                heapq.heappush(heap, (-value, a, b, 0, 0))
            else:
                at[a] = start[a + 1]  # its links are read best first: none left reaches it
            return


@njit(cache=True)
def _zero_rule(
    w: Array, start: Array, other: Array, sim: Array, cut: float
) -> Array:  # pragma: no cover - compiled; zero_rule's tests run it
    """:func:`zero_rule`'s loop over each node's links, best first; ``cut``: the threshold
    less :data:`AT_THRESHOLD`.

    The heap holds each single node's best link not yet taken (entries of two single nodes
    have versions 0, 0; once one is taken or found stale, its node's next is pushed) and the
    entries merges push: popped in the order one heap of every link would give them."""
    m = len(w)
    heap = [(0.0, 0, 0, 0, 0)]  # (-mean, a, b, version of a, of b), typed by its first entry
    heap.pop()
    at = start[:-1].copy()
    for a in range(m):
        _push_next_link(heap, at, start, other, sim, w, a, cut)
    root = np.arange(m)
    size = w.copy()
    version = np.zeros(m, np.int64)
    slot = np.full(m, -1, np.int64)  # a merged group's sums: sums[slot[a]]
    sums = List.empty_list(_SUMS)
    filter_at = HEAP_FILTER_AT
    while len(heap):
        neg, a, b, va, vb = heapq.heappop(heap)
        if va == 0 and vb == 0 and version[a] == 0 and root[a] == a:
            _push_next_link(heap, at, start, other, sim, w, a, cut)
        if va != version[a] or vb != version[b] or root[a] != a or root[b] != b:
            continue  # stale: one of the two groups has changed since this entry
        if -neg < cut:
            break
        for g in (a, b):  # a group merging for the first time: its sums from its links
            if slot[g] < 0:
                own = Dict.empty(types.int64, types.float64)
                for e in range(start[g], start[g + 1]):
                    c = _find(root, other[e])
                    own[c] = own.get(c, 0.0) + _pair_sum(w, g, other[e], sim[e])
                slot[g] = len(sums)
                sums.append(own)
        root[b] = a  # a < b: the smaller number survives
        size[a] += size[b]
        version[a] += 1
        merged = Dict.empty(types.int64, types.float64)
        for g in (a, b):
            for c, total in sums[slot[g]].items():
                c = _find(root, c)  # a group that merged since: its current number
                if c != a:
                    merged[c] = merged.get(c, 0.0) + total
        sums[slot[a]] = merged
        sums[slot[b]] = Dict.empty(types.int64, types.float64)
        for c, total in merged.items():
            value = total / (size[a] * size[c])
            if value >= cut:
                if a < c:
                    heapq.heappush(heap, (-value, a, c, version[a], version[c]))
                else:
                    heapq.heappush(heap, (-value, c, a, version[c], version[a]))
        if len(heap) > filter_at:
            live = [heap[0]]
            live.pop()
            for entry in heap:
                _, x, y, vx, vy = entry
                fresh = vx == version[x] and vy == version[y] and root[x] == x and root[y] == y
                waiting = vx == 0 and vy == 0 and version[x] == 0 and root[x] == x
                if fresh or waiting:  # a single node's next link is read after this one
                    live.append(entry)
            heapq.heapify(live)
            heap = live
            filter_at = max(HEAP_FILTER_AT, 2 * len(heap))
    return _resolved(root)  # the survivor of a merge is the smaller number
