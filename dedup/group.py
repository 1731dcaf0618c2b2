"""Group linked articles into stories. Arrays in, arrays out; no I/O.

Grouping is average-linkage agglomeration cut at the threshold: two groups merge only while
the *mean* similarity of all their cross pairs reaches the threshold, so a chain A~B~C cannot
glue A to an unrelated C through B. Since a mean never exceeds the largest term, every story
lies inside one connected component of the graph of links at or above the threshold; so the
linkage runs per component. A component of up to ``EXACT_COMPONENT_MAX`` articles is linked
on its exact similarity matrix (all its pairs); a larger one (a chain through many
neighbours) on its links alone, where a pair that is not a link counts as similarity 0
(``_sparse_average_linkage``): memory stays O(links), never c x c.

The input order never matters: the pipeline sorts articles canonically first, and ties are
broken by that order.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from dedup.link import Links
from dedup.models import SIMILARITY_MEMBERS
from dedup.represent.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray

# A component this large is linked on its exact matrix (2,000^2 floats: 16 MB); above, sparse.
EXACT_COMPONENT_MAX = 2000
# fcluster keeps merges at height <= t; a tiny epsilon keeps "at the threshold" inside.
AT_THRESHOLD = 1e-9


def _members_by_label(labels: Array) -> list[Array]:
    """Indices of each label's members, labels in ascending order, members ascending."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, bounds) if len(order) else []


def group(
    reps: Representations, links: Links, threshold: float, copy_of: Array | None = None
) -> Array:
    """A story label per article (0..k-1, numbered by each story's first article).

    ``copy_of[k]``, when given, is the article that ``k`` is an exact copy of (``k`` itself for
    the first of its kind), and ``links`` join such first articles only: copies go where
    their original goes. A large component is then linked on its originals, each weighing as
    many articles as it has copies, which is what average linkage over all of them gives,
    since a copy's similarities are its original's.
    """
    n = reps.n
    copy_of = np.arange(n) if copy_of is None else np.asarray(copy_of)
    strong = links.sim >= threshold
    copied = np.flatnonzero(copy_of != np.arange(n))
    graph = sp.coo_matrix(
        (
            np.ones(int(strong.sum()) + len(copied), dtype=np.int8),
            (
                np.concatenate([links.i[strong], copied]),
                np.concatenate([links.j[strong], copy_of[copied]]),
            ),
        ),
        shape=(n, n),
    )
    _, component = connected_components(graph, directed=False)
    labels = np.arange(n, dtype=np.int64)  # a singleton is its own story
    large = np.bincount(component, minlength=n) > EXACT_COMPONENT_MAX
    # Links inside large components, for their sparse linkage (few such components).
    in_large = np.flatnonzero(
        large[component[links.i]] & (component[links.i] == component[links.j])
    )
    for members in _members_by_label(component):
        if len(members) == 1:
            continue
        if len(members) == 2:  # joined by a link at or above the threshold: one story
            labels[members] = members[0]
            continue
        if len(members) <= EXACT_COMPONENT_MAX:
            for sub in _average_linkage(reps.matrix(members), threshold):
                labels[members[sub]] = members[sub].min()
            continue
        originals = members[copy_of[members] == members]
        weights = np.bincount(np.searchsorted(originals, copy_of[members]))
        mine = in_large[component[links.i[in_large]] == component[members[0]]]
        local = np.searchsorted(originals, links.i[mine]), np.searchsorted(originals, links.j[mine])
        subs = _sparse_average_linkage(
            len(originals), *local, links.sim[mine], threshold, weights=weights
        )
        story = np.empty(n, dtype=np.int64)
        for sub in subs:
            story[originals[sub]] = originals[sub].min()
        labels[members] = story[copy_of[members]]
    # Renumber by first article so labels do not depend on component numbering.
    _, dense_labels = np.unique(labels, return_inverse=True)
    return np.asarray(dense_labels, dtype=np.int64)


def _sparse_average_linkage(
    n: int, i: Array, j: Array, sims: Array, threshold: float, weights: Array | None = None
) -> list[Array]:
    """Average linkage cut at ``threshold`` on links alone: index groups of ``0..n-1``.

    A pair that is not among the links (below the floor, or not found by an approximate
    search) counts as similarity 0, as if dissimilar: a merge never rests on a pair nobody
    measured, so a chain cannot glue groups through missing pairs. Groups merge best pair
    first while the mean of their cross similarities, ``sum of linked pairs / (size_a x
    size_b)``, reaches the threshold; ties go to the pair of groups with the smaller first
    members, so the result depends only on the (canonical) order of the articles. Memory
    O(n + links). ``weights[a]``: how many articles node ``a`` stands for (exact copies), so
    that its pairs count that many times.
    """
    size = [1] * n if weights is None else [int(w) for w in weights]
    # cross[a][b]: sum of the linked similarities between groups a and b (a group's id is its
    # smallest member).
    cross: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, s in zip(i.tolist(), j.tolist(), sims.tolist(), strict=True):
        if a != b:
            total = s * size[a] * size[b]
            cross[a][b] = cross[a].get(b, 0.0) + total
            cross[b][a] = cross[b].get(a, 0.0) + total
    version = [0] * n
    heap = [
        (-total / (size[a] * size[b]), a, b, 0, 0)
        for a in range(n)
        for b, total in cross[a].items()
        if a < b
    ]
    heapq.heapify(heap)
    cut = threshold - AT_THRESHOLD
    parent = list(range(n))
    while heap:
        neg, a, b, va, vb = heapq.heappop(heap)
        if va != version[a] or vb != version[b] or parent[a] != a or parent[b] != b:
            continue  # stale: one of the two groups has changed since this entry
        if -neg < cut:
            break
        keep, gone = (a, b) if a < b else (b, a)
        # Merge the smaller map into the larger one.
        if len(cross[keep]) < len(cross[gone]):
            cross[keep], cross[gone] = cross[gone], cross[keep]
        merged, other = cross[keep], cross[gone]
        merged.pop(keep, None)
        merged.pop(gone, None)
        for c, total in other.items():
            if c not in (keep, gone):
                merged[c] = merged.get(c, 0.0) + total
        cross[gone] = {}
        parent[gone] = keep
        size[keep] += size[gone]
        version[keep] += 1
        for c, total in merged.items():
            neighbour = cross[c]
            neighbour.pop(gone, None)
            neighbour[keep] = total
            lo, hi = (keep, c) if keep < c else (c, keep)
            mean = total / (size[keep] * size[c])
            if mean >= cut:
                heapq.heappush(heap, (-mean, lo, hi, version[lo], version[hi]))
    root = np.arange(n)
    for x in range(n):  # parents point to smaller ids, so one pass in order resolves them
        root[x] = root[parent[x]]
    return _members_by_label(root)


def _average_linkage(sims: Array, threshold: float) -> list[Array]:
    """Index groups of one component under average linkage cut at ``threshold``."""
    distance = np.clip(1.0 - sims.astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    flat = fcluster(tree, t=1.0 - threshold + AT_THRESHOLD, criterion="distance")
    return [np.flatnonzero(flat == k) for k in np.unique(flat)]


@dataclass(frozen=True)
class Group:
    """One story before it meets the articles: indices most central first.

    ``sims`` is the similarity matrix of the first :data:`SIMILARITY_MEMBERS` members, rows
    and columns ordered like ``members``.
    """

    members: Array
    centre_similarity: Array
    cohesion_min: float | None
    cohesion_mean: float | None
    sims: Array


def describe(reps: Representations, labels: Array, copy_of: Array | None = None) -> list[Group]:
    """Order each group's members by centrality; measure its cohesion.

    ``copy_of`` as for :func:`group`: a group holding exact copies is measured on its distinct
    articles, each counted as often as it has copies (a story of 10,000 copies is a 1 x 1
    matrix, not 10,000 x 10,000), which gives the same figures.
    """
    groups: list[Group] = []
    for members in _members_by_label(labels):
        if len(members) == 1:
            one = np.ones(1, dtype=np.float32)
            groups.append(Group(members, one, None, None, one.reshape(1, 1)))
            continue
        n = len(members)
        distinct, at = np.unique(
            members if copy_of is None else copy_of[members], return_inverse=True
        )
        if len(distinct) == n:
            sims = reps.matrix(members)
            off = sims[~np.eye(n, dtype=bool)]
            cohesion_min, cohesion_mean = float(off.min()), float(off.mean())
            rows = sims
        else:
            sims = reps.matrix(distinct).astype(np.float64)
            weight = np.bincount(at).astype(np.float64)
            self_pairs = weight * (weight - 1.0)  # pairs of copies of one article
            pair_weight = np.outer(weight, weight)
            np.fill_diagonal(pair_weight, self_pairs)
            present = pair_weight > 0
            cohesion_min = float(sims[present].min())
            cohesion_mean = float((sims * pair_weight).sum() / (n * (n - 1)))
            rows = sims[at]  # member x distinct; a member's row, its article's
        # The medoid: highest mean similarity to the others; ties go to the earlier article.
        row_sums = rows.sum(axis=1) if len(distinct) == n else rows @ np.bincount(at)
        centrality = (row_sums - 1.0) / (n - 1)
        medoid = int(np.argmax(centrality))
        to_centre = rows[medoid][at]  # ``at`` is 0..n-1 when there are no copies
        order = np.lexsort((members, -to_centre))
        # The most central members' block only (see SIMILARITY_MEMBERS).
        top = order[:SIMILARITY_MEMBERS]
        block = sims[np.ix_(at[top], at[top])]
        groups.append(
            Group(
                members[order],
                to_centre[order].astype(np.float32),
                cohesion_min,
                cohesion_mean,
                block.astype(np.float32),
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
    if not candidates:
        return []
    members = _members_by_label(labels)  # labels are 0..k-1: label x is members[x]
    # Every cross pair of every candidate at once: one pass.
    ii = np.concatenate([np.repeat(members[x], len(members[y])) for x, y in candidates])
    jj = np.concatenate([np.tile(members[y], len(members[x])) for x, y in candidates])
    counts = np.array([len(members[x]) * len(members[y]) for x, y in candidates])
    owner = np.repeat(np.arange(len(candidates)), counts)
    sims = reps.pairs(ii, jj)  # in slices: bounded memory
    means = np.bincount(owner, weights=sims, minlength=len(candidates)) / counts
    return [
        (x, y, float(mean))
        for (x, y), mean in zip(candidates, means, strict=True)
        if floor <= mean < threshold
    ]


def story_order(groups: Sequence[Group], keys: Sequence[tuple[object, ...]]) -> list[int]:
    """Indices of ``groups`` in report order: larger first, then by the given tie keys."""
    return sorted(range(len(groups)), key=lambda g: (-len(groups[g].members), keys[g]))


# Languages with this many articles are compared. When some of them (ISOLATED) have next to
# none of their articles in a story told in another language while others (CROSSING) have many,
# the similarity scale probably does not fit the isolated ones: so the old defaults looked on
# a feed of short items in 44 languages (ar, ko, th 0%, zh 2% of their articles in a story told
# in another language; en, fr, id, pt 57-71%), and said nothing (issue "one scale"). A corpus
# whose languages all stay apart (each outlet's own news) is no sign of anything.
SCALE_CHECK_PER_LANGUAGE = 50
SCALE_CHECK_ISOLATED = 0.025
SCALE_CHECK_CROSSING = 0.25


def scale_warning(langs: Array, labels: Array, names: Sequence[str]) -> str | None:
    """One line when the stories of a multilingual corpus (``langs``: language codes, -1
    unknown, ``names[code]`` their tags; ``labels``: story per article, from 0) look like a
    similarity scale that does not fit some of its languages: big languages that next to
    never share a story with another, beside big languages that often do. None otherwise.
    One sort: 0.8 s for a million articles here."""
    known = langs >= 0
    if not known.any():
        return None
    told = np.unique(np.stack([labels[known], langs[known]], axis=1), axis=0)
    crossing_story = np.bincount(told[:, 0], minlength=int(labels.max()) + 1) > 1
    joined = crossing_story[labels[known]]
    size = np.bincount(langs[known])
    share = np.bincount(langs[known], weights=joined) / np.maximum(size, 1)
    big = [int(k) for k in np.flatnonzero(size >= SCALE_CHECK_PER_LANGUAGE)]
    isolated = sorted(names[k] for k in big if share[k] <= SCALE_CHECK_ISOLATED)
    crossing = sorted(names[k] for k in big if share[k] >= SCALE_CHECK_CROSSING)
    if not isolated or not crossing:
        return None
    least = min(share[k] for k in big if share[k] >= SCALE_CHECK_CROSSING)
    return (
        f"articles in {', '.join(isolated)} next to never share a story with another language, "
        f"while {least:.0%} or more of those in {', '.join(crossing)} do: the similarity scale "
        "may not fit this corpus; measure it on a labelled sample with dedup evaluate clusters "
        "over a sweep of thresholds"
    )
