"""Group linked articles into stories. Arrays in, arrays out; no I/O.

Grouping is average-linkage agglomeration cut at the threshold: two groups merge only while
the *mean* similarity of all their cross pairs reaches the threshold, so a chain A~B~C cannot
glue A to an unrelated C through B. Since a mean never exceeds the largest term, every story
lies inside one connected component of the graph of links at or above the threshold, and
only the links inside such components matter.

The linkage runs on the links (:func:`dedup.linkage.agglomerate`), in time close to linear
in them: a pair that is not a link is known only to lie below the floor the links were found
down to, so the mean of two groups is first bounded from above with the floor in its
place; only when that bound reaches the threshold are the group pairs' missing pairs scored
(each pair of articles at most once in a run). The result is exact average linkage, as on
the full similarity matrix, whenever every pair that is not a link lies below the floor (an
exact search; an approximate one misses few); and the work stays O(links) plus the pairs of
groups that come close to merging, never c x c for a component of c articles.

The input order never matters: the pipeline sorts articles canonically first, and ties are
broken by that order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from dedup.link import AnyLinks, distinct
from dedup.linkage import agglomerate, components, pair_scorer, roots, within, zero_rule
from dedup.models import SIMILARITY_MEMBERS
from dedup.represent.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray

#: A component of more articles than this (a chain through many neighbours, as near-twin
#: stories make) is linked on its links alone, a pair that is not a link counting as 0: its
#: group pairs are never scored, so its work stays O(links) however it merges.
EXACT_COMPONENT_MAX = 2000


def _members_by_label(labels: Array) -> list[Array]:
    """Indices of each label's members, labels in ascending order, members ascending."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, bounds) if len(order) else []


def group(
    reps: Representations,
    links: AnyLinks,
    threshold: float,
    copy_of: Array | None = None,
    *,
    floor: float | None = None,
) -> Array:
    """A story label per article (0..k-1, numbered by each story's first article).

    ``floor``: the similarity the links were found down to (default ``threshold``): every pair
    that is not a link is taken to lie below it until it is scored. ``copy_of[k]``, when
    given, is the article that ``k`` is an exact copy of (``k`` itself for the first of its
    kind), and ``links`` join such first articles only: copies go where their original goes.
    The linkage runs on the originals, each weighing as many articles as it has copies, which
    is what average linkage over all of them gives, since a copy's similarities are its
    original's.
    """
    n = reps.n
    copy_of = np.arange(n) if copy_of is None else np.asarray(copy_of)
    component = components(copy_of, links, threshold)
    size = np.bincount(component, minlength=n)
    # A component of two articles is one story (joined by a link at or above the threshold,
    # or copies of one article); three or more are linked on their originals.
    linked = size[component] > 2
    originals = np.flatnonzero(linked & (copy_of == np.arange(n)))
    weights = np.bincount(np.searchsorted(originals, copy_of[linked]), minlength=len(originals))
    parent = np.arange(len(originals))
    big = size[component[originals]] > EXACT_COMPONENT_MAX
    for exact in (True, False):
        nodes = np.flatnonzero(big != exact)
        if not len(nodes):
            continue
        # node_of[x]: article x's node in this pass (-1: none); the links are read through
        # it, not copied: at 10^6 articles there are tens of millions of them
        node_of = np.full(n, -1, dtype=np.int64)
        node_of[originals[nodes]] = np.arange(len(nodes))
        if exact:
            li, lj, sims = within(node_of, component, links)
            found = roots(
                agglomerate(
                    np.arange(len(nodes)),
                    weights[nodes],
                    li,
                    lj,
                    sims,
                    threshold,
                    threshold if floor is None else min(floor, threshold),
                    pair_scorer(reps, originals[nodes], weights[nodes]),
                )
            )
        else:
            found = zero_rule(weights[nodes], links, threshold, node_of, component)
        parent[nodes] = nodes[found]
    story = np.arange(n, dtype=np.int64)
    story[originals] = originals[parent]
    pairs = size[component] == 2
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, component[pairs], np.flatnonzero(pairs))
    story[pairs] = first[component[pairs]]
    labels = np.where(size[component] > 2, story[copy_of], story)
    # Renumber by first article so labels do not depend on component numbering.
    _, dense_labels = np.unique(labels, return_inverse=True)
    return np.asarray(dense_labels, dtype=np.int64)


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


#: Pairs scored in one call while describing stories: their matrices are built that many
#: pairs at a time (a call per story cost more than its pairs on a corpus of small stories).
DESCRIBE_PAIRS = 1 << 21


def _matrices(reps: Representations, sets: Sequence[Array]) -> Iterator[Array]:
    """The similarity matrix of each index set in turn (1 on the diagonal), the pairs of many
    sets scored together: one :meth:`Representations.pairs` call per :data:`DESCRIBE_PAIRS`."""
    start = 0
    while start < len(sets):
        stop, budget = start, 0
        while stop < len(sets) and (stop == start or budget < DESCRIBE_PAIRS):
            budget += len(sets[stop]) * (len(sets[stop]) - 1) // 2
            stop += 1
        batch = sets[start:stop]
        upper = [np.triu_indices(len(members), 1) for members in batch]
        ii = np.concatenate([m[u[0]] for m, u in zip(batch, upper, strict=True)])
        jj = np.concatenate([m[u[1]] for m, u in zip(batch, upper, strict=True)])
        sims = reps.pairs(ii, jj)
        at = 0
        for members, u in zip(batch, upper, strict=True):
            m = np.ones((len(members), len(members)), dtype=np.float32)
            m[u] = sims[at : at + len(u[0])]
            m.T[u] = m[u]
            at += len(u[0])
            yield m
        start = stop


def describe(reps: Representations, labels: Array, copy_of: Array | None = None) -> list[Group]:
    """Order each group's members by centrality; measure its cohesion.

    ``copy_of`` as for :func:`group`: a group holding exact copies is measured on its distinct
    articles, each counted as often as it has copies (a story of 10,000 copies is a 1 x 1
    matrix, not 10,000 x 10,000), which gives the same figures.
    """
    groups: list[Group] = []
    every = _members_by_label(labels)
    distinct_sets = [
        np.unique(members if copy_of is None else copy_of[members], return_inverse=True)
        for members in every
    ]
    shared = [d for m, (d, _) in zip(every, distinct_sets, strict=True) if len(m) > 1]
    matrices = _matrices(reps, shared)
    for members, (articles, at) in zip(every, distinct_sets, strict=True):
        if len(members) == 1:
            one = np.ones(1, dtype=np.float32)
            groups.append(Group(members, one, None, None, one.reshape(1, 1)))
            continue
        n = len(members)
        matrix = next(matrices)
        if len(articles) == n:
            sims = matrix
            off = sims[~np.eye(n, dtype=bool)]
            cohesion_min, cohesion_mean = float(off.min()), float(off.mean())
            rows = sims
        else:
            sims = matrix.astype(np.float64)
            weight = np.bincount(at).astype(np.float64)
            self_pairs = weight * (weight - 1.0)  # pairs of copies of one article
            pair_weight = np.outer(weight, weight)
            np.fill_diagonal(pair_weight, self_pairs)
            present = pair_weight > 0
            cohesion_min = float(sims[present].min())
            cohesion_mean = float((sims * pair_weight).sum() / (n * (n - 1)))
            rows = sims[at]  # member x distinct; a member's row, its article's
        # The medoid: highest mean similarity to the others; ties go to the earlier article.
        row_sums = rows.sum(axis=1) if len(articles) == n else rows @ np.bincount(at)
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


#: Related stories are measured this many article pairs at a time (and their candidates found
#: this many links at a time): at 10^6 articles the pairs of every candidate at once ran to
#: billions.
RELATED_PAIRS = 1 << 20


def _members(order: Array, first: Array, labels: Array) -> tuple[Array, Array]:
    """The members of ``labels`` end to end (``order[first[x]:first[x + 1]]`` for each label
    ``x``), and where each label's members begin."""
    sizes = first[labels + 1] - first[labels]
    at = np.concatenate([[0], np.cumsum(sizes)])
    return order[np.repeat(first[labels] - at[:-1], sizes) + np.arange(at[-1])], at


def related_pairs(
    reps: Representations, labels: Array, links: AnyLinks, floor: float, threshold: float
) -> list[tuple[int, int, float]]:
    """Label pairs whose mean cross similarity is at least ``floor`` (and below ``threshold``):
    the label pairs a link joins, each measured on all its cross pairs
    (:meth:`Representations.cross`), in batches of about :data:`RELATED_PAIRS` pairs."""
    k = int(labels.max()) + 1 if len(labels) else 0
    keys = []
    for part in links.chunks(RELATED_PAIRS):
        a, b = labels[part.i], labels[part.j]
        apart = a != b
        keys.append(distinct(np.minimum(a, b)[apart] * k + np.maximum(a, b)[apart], in_place=True))
    if not keys:
        return []
    x, y = np.divmod(distinct(np.concatenate(keys), in_place=True), k)
    order = np.argsort(labels, kind="stable")  # label x's members: order[first[x]:first[x + 1]]
    size = np.bincount(labels, minlength=k)
    first = np.concatenate([[0], np.cumsum(size)])
    counts = size[x] * size[y]
    done = np.cumsum(counts)  # pairs of candidates 0..c
    found: list[tuple[int, int, float]] = []
    start = 0
    while start < len(x):  # candidates start..stop-1: about RELATED_PAIRS pairs, at least one
        before = int(done[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(done, before + RELATED_PAIRS, side="right")))
        sims = reps.cross(
            *_members(order, first, x[start:stop]), *_members(order, first, y[start:stop])
        )
        n_pairs = counts[start:stop]
        owner = np.repeat(np.arange(stop - start), n_pairs)
        means = np.bincount(owner, weights=sims, minlength=stop - start) / n_pairs
        keep = np.flatnonzero((means >= floor) & (means < threshold))
        found += [(int(x[start + c]), int(y[start + c]), float(means[c])) for c in keep.tolist()]
        start = stop
    return found


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
