"""Candidate pairs: which articles are compared at all. Arrays in, arrays out; no I/O.

Two ways to find every pair whose similarity reaches a floor, both scored by
``Representations`` so that every stage sees the same number for the same two articles:

* ``exact``: blocked products of rows against the corpus; every pair at or above the floor is
  found. Work O(N^2 d), memory O(block x N) plus the pairs found. Works for every backend
  (the lexical one multiplies sparse TF-IDF rows).
* ``ann``: an inverted-file search over the dense vectors: k-means cells (faiss), and each
  article compared, by matrix products, with the members of the ``nprobe`` cells nearest to
  it. It keeps every neighbour at or above the grouping threshold (a big story is never cut)
  and its ``k`` nearest down to the floor; the pairs are re-scored with
  ``Representations.pairs``. Work about O(N^1.5 d sqrt(nprobe)), memory O(N d + N k).
  Approximate: a pair whose two articles fell into cells neither visits is missed. Needs
  dense vectors, so the lexical backend always links exactly (sparse products; its work
  grows as N^2). The hybrid backend takes its candidates from the dense half, so a pair whose
  dense cosine is weak but whose lexical similarity is strong can be missed.

``auto`` links exactly below ``ANN_MIN_ARTICLES`` articles or without dense vectors, else
approximately.

With a ``spill`` directory the approximate search streams its pairs through files
(:mod:`dedup.link.pairs`): each block's candidates written out as found, scored a range of
articles at a time, the links appended to files that grouping reads back a chunk at a time.

A time window (``window_days``) drops pairs whose dates (the published ones; with
``Settings.trust_text_dates``, else the inferred ones) are both known and further apart than
the window; an article without a date is compared with all. The exact path skips
such pairs without computing them (rows are taken in date order, each block against the
articles dated near it); the approximate path filters its candidates, so its ``k`` nearest are
taken before the window applies.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from dedup.errors import InputError
from dedup.link.pairs import (
    AnyLinks,
    Candidates,
    Links,
    SpilledLinks,
    distinct,
    end_type,
    scored,
)
from dedup.progress import Advance
from dedup.represent.similarity import Representations

log = logging.getLogger(__name__)

Array = np.ndarray
Method = Literal["auto", "exact", "ann"]
METHODS: tuple[str, ...] = ("auto", "exact", "ann")

BLOCK_ROWS = 256
# Below this many articles exact linking is fast enough (about 2 s at 20,000 on 2 cores).
ANN_MIN_ARTICLES = 20_000
DEFAULT_K = 32
DEFAULT_NPROBE = 6
KMEANS_ITERATIONS = 6
TRAIN_PER_CELL = 24
QUERY_ROWS = 1 << 17
NO_DATE = np.iinfo(np.int64).min

__all__ = [
    "AnyLinks",
    "Links",
    "SpilledLinks",
    "distinct",
    "end_type",
    "find_links",
    "link_ann",
    "link_exact",
]


def resolve_method(reps: Representations, method: str) -> str:
    """The method that will run: ``exact`` or ``ann`` (``exact`` without dense vectors)."""
    if method not in METHODS:
        raise InputError(f"unknown neighbour method {method!r}: use one of {', '.join(METHODS)}")
    if not reps.has_dense:
        return "exact"
    if method == "auto":
        return "ann" if reps.n >= ANN_MIN_ARTICLES else "exact"
    return method


def find_links(
    reps: Representations,
    floor: float,
    *,
    method: str = "auto",
    k: int = DEFAULT_K,
    nprobe: int = DEFAULT_NPROBE,
    complete_at: float | None = None,
    dates: Array | None = None,
    window_days: int | None = None,
    progress: Advance | None = None,
    among: Array | None = None,
    spill: str | Path | None = None,
) -> Links | SpilledLinks:
    """Pairs at or above ``floor``. ``dates``: day ordinals, ``NO_DATE`` where unknown.

    ``complete_at`` (the grouping threshold; default ``floor``): the approximate search keeps
    every neighbour at or above it, however many; between ``floor`` and it, the ``k`` nearest.
    ``progress`` is called with the number of rows (articles) searched, block by block.
    ``among``: link these articles only (``dates`` are theirs), the pairs numbered as in
    ``reps``; the approximate search copies their search vectors alone, never the whole
    representations of a big corpus. ``spill``: a directory under which the approximate search
    streams its candidates and links through files (:mod:`dedup.link.pairs`); the exact one,
    for corpora small enough to compare all pairs, keeps them in memory.
    """
    chosen = resolve_method(reps, method)
    n = reps.n if among is None else len(among)
    log.info("linking %d articles: %s neighbours", n, chosen)
    if chosen == "exact":
        if among is None:
            return link_exact(reps, floor, dates=dates, window_days=window_days, progress=progress)
        found = link_exact(
            reps.rows(among), floor, dates=dates, window_days=window_days, progress=progress
        )
        ends = among.astype(end_type(reps.n))
        return Links(ends[found.i], ends[found.j], found.sim)
    return link_ann(
        reps,
        floor,
        k=k,
        nprobe=nprobe,
        complete_at=complete_at,
        dates=dates,
        window_days=window_days,
        progress=progress,
        among=among,
        spill=spill,
    )


def date_ordinals(ordinals: Array) -> Array:
    """The window's day numbers from dates' ordinals (``date.toordinal``, 0 where unknown, as
    :func:`dedup.columns.dates_of` gives them): ``NO_DATE`` where unknown."""
    return np.where(ordinals > 0, ordinals.astype(np.int64), NO_DATE)


def _in_window(dates: Array | None, window_days: int | None, i: Array, j: Array) -> Array:
    if dates is None or window_days is None:
        return np.ones(len(i), dtype=bool)
    a, b = dates[i], dates[j]
    unknown = (a == NO_DATE) | (b == NO_DATE)
    return np.asarray(unknown | (np.abs(a - b) <= window_days), dtype=bool)


def _blocks(
    n: int, block_rows: int, dates: Array | None, window_days: int | None
) -> Iterator[tuple[Array, Array | None]]:
    """Row blocks and the columns each must meet (``None``: all of them)."""
    if dates is None or window_days is None:
        for start in range(0, n, block_rows):
            yield np.arange(start, min(n, start + block_rows)), None
        return
    undated = np.flatnonzero(dates == NO_DATE)
    for start in range(0, len(undated), block_rows):
        yield undated[start : start + block_rows], None
    dated = np.flatnonzero(dates != NO_DATE)
    by_date = dated[np.argsort(dates[dated], kind="stable")]
    sorted_days = dates[by_date]
    for start in range(0, len(by_date), block_rows):
        rows = by_date[start : start + block_rows]
        lo = np.searchsorted(sorted_days, dates[rows[0]] - window_days, side="left")
        hi = np.searchsorted(sorted_days, dates[rows[-1]] + window_days, side="right")
        yield rows, np.sort(np.concatenate([undated, by_date[lo:hi]]))


def link_exact(
    reps: Representations,
    floor: float,
    block_rows: int = BLOCK_ROWS,
    *,
    dates: Array | None = None,
    window_days: int | None = None,
    progress: Advance | None = None,
) -> Links:
    """Every pair at or above ``floor`` (inside the window), by blocks of rows."""
    found_i: list[Array] = []
    found_j: list[Array] = []
    found_s: list[Array] = []
    for rows, cols in _blocks(reps.n, block_rows, dates, window_days):
        sims = reps.block(rows) if cols is None else reps.block(rows, cols)
        r, c = np.nonzero(sims >= floor)
        i, j = rows[r], (c if cols is None else cols[c])
        keep = (i < j) & _in_window(dates, window_days, i, j)
        found_i.append(i[keep])
        found_j.append(j[keep])
        found_s.append(sims[r[keep], c[keep]])
        if progress is not None:
            progress(len(rows))
    return _sorted_links(found_i, found_j, found_s, reps.n)


def _sorted_links(
    found_i: list[Array], found_j: list[Array], found_s: list[Array], n: int
) -> Links:
    if not found_i:
        return Links.empty()
    i = np.concatenate(found_i).astype(end_type(n))
    j = np.concatenate(found_j).astype(end_type(n))
    s = np.concatenate(found_s).astype(np.float32)
    order = np.lexsort((j, i))  # the same links in the same order, however they were found
    return Links(i[order], j[order], s[order])


class _Rows:
    """The search vectors of the articles linked, read in place: rows of ``vectors``, or with
    ``among``, of ``vectors[among]`` (numbered ``0..len(among)``), taken a few at a time, so
    the originals of a corpus with copies are never copied whole (a gigabyte at 10^6)."""

    def __init__(self, vectors: Array, among: Array | None) -> None:
        self.vectors, self.among = vectors, among
        self.n = len(vectors) if among is None else len(among)
        self.dim = vectors.shape[1]

    def __getitem__(self, idx: Array) -> Array:
        picked = self.vectors[idx if self.among is None else self.among[idx]]
        return np.ascontiguousarray(picked, dtype=np.float32)


def _cells(dense: _Rows, nprobe: int) -> tuple[Array, Array]:
    """Spherical k-means cells: each article's own cell and the ``nprobe`` cells it visits.

    About sqrt(N nprobe) cells, which balances the two costs: assigning N articles to the
    cells (N x cells products) and comparing each article with the cells it visits (N x
    nprobe x N / cells products).
    """
    import faiss  # imported here: only large corpora need it

    n, dim = dense.n, dense.dim
    cells = max(1, min(math.isqrt(n * nprobe), n // TRAIN_PER_CELL))
    # Train on an evenly spaced sample (the corpus is in canonical order, so this is too).
    sample = distinct(np.linspace(0, n - 1, num=min(n, TRAIN_PER_CELL * cells)).astype(np.int64))
    kmeans = faiss.Kmeans(
        dim,
        cells,
        niter=KMEANS_ITERATIONS,
        spherical=True,
        seed=1234,
        min_points_per_centroid=1,
        max_points_per_centroid=TRAIN_PER_CELL,
    )
    kmeans.train(dense[sample])
    index = faiss.IndexFlatIP(dim)
    assert kmeans.centroids is not None
    index.add(kmeans.centroids)
    visits = np.empty((n, min(nprobe, cells)), dtype=np.int64)
    for start in range(0, n, QUERY_ROWS):  # each row's cells do not depend on its block
        rows = np.arange(start, min(n, start + QUERY_ROWS))
        visits[rows] = index.search(dense[rows], visits.shape[1])[1]
    return visits[:, 0].copy(), visits


def link_ann(
    reps: Representations,
    floor: float,
    *,
    k: int = DEFAULT_K,
    nprobe: int = DEFAULT_NPROBE,
    complete_at: float | None = None,
    dates: Array | None = None,
    window_days: int | None = None,
    progress: Advance | None = None,
    among: Array | None = None,
    spill: str | Path | None = None,
) -> Links | SpilledLinks:
    """Pairs at or above ``floor`` among each article's nearest dense neighbours.

    An inverted-file search done as dense products: the articles are put into k-means cells
    (faiss), and each article is compared with the members of the ``nprobe`` cells nearest to
    it, many articles against one cell at a time (one matrix product). Each article keeps
    every neighbour at or above ``complete_at`` (so no story is cut at ``k``) and its ``k``
    nearest from ``floor`` up (floors per article: ``Representations.dense_floor``); the pairs
    are then scored with ``Representations.pairs``. ``among`` and ``spill`` as for
    :func:`find_links`.
    """
    if not reps.has_dense:
        raise InputError("approximate neighbours need dense vectors")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    if nprobe < 1:
        raise InputError(f"nprobe must be at least 1, got {nprobe}")
    dense = _Rows(reps.search_vectors, among)
    n = dense.n
    if n < 2:
        return Links.empty()
    home, visits = _cells(dense, nprobe)
    by_cell = _members_by_cell(home)
    at = slice(None) if among is None else among  # per article, numbered as ``dense`` is
    bound, keep_all = (reps.dense_floor(f)[at] for f in (floor, max(floor, complete_at or floor)))

    def keyed(i: Array, j: Array) -> Array:
        keep = _in_window(dates, window_days, i, j)
        i, j = i[keep], j[keep]
        key: Array = np.minimum(i, j) * n + np.maximum(i, j)
        return key

    candidates = Candidates(n, None if spill is None else SpilledLinks(spill, end_type(reps.n)))
    for start in range(0, n, QUERY_ROWS):
        rows = np.arange(start, min(n, start + QUERY_ROWS))
        candidates.add(_scan(dense, rows, visits[rows], by_cell, k, bound, keep_all, keyed))
        if progress is not None:
            progress(len(rows))
    return scored(reps, candidates, floor, among)


def _members_by_cell(home: Array) -> list[Array]:
    order = np.argsort(home, kind="stable")
    starts = np.searchsorted(home[order], np.arange(int(home.max()) + 2))
    return [order[starts[c] : starts[c + 1]] for c in range(len(starts) - 1)]


def _scan(
    dense: _Rows,
    rows: Array,
    visits: Array,
    by_cell: list[Array],
    k: int,
    bound: Array,
    keep_all: Array,
    keyed: Callable[[Array, Array], Array],
) -> list[Array]:
    """Candidate pairs ``(row, neighbour)`` of ``rows`` against the cells they visit, as
    ``keyed`` gives them (the window applied, one key a pair).

    Every neighbour whose cosine reaches the row's ``keep_all``, and each row's ``k`` nearest
    that reach its ``bound`` (a running top ``k`` per row, merged cell by cell). The strong ones
    are keyed cell by cell: at 10^6 articles a block's strong pairs, both ends and the window's
    temporaries made at once for the whole block, were spikes of 1.5 to 2 GB over the keys.
    """
    local = np.repeat(np.arange(len(rows)), visits.shape[1])
    cell = visits.ravel()
    order = np.argsort(cell, kind="stable")
    local, cell = local[order], cell[order]
    edges = np.flatnonzero(np.diff(cell)) + 1
    best_s = np.full((len(rows), k), -np.inf, dtype=np.float32)
    best_j = np.full((len(rows), k), -1, dtype=np.int64)
    keys: list[Array] = []
    for part in np.split(np.arange(len(cell)), edges):
        if not len(part) or not len(members := by_cell[int(cell[part[0]])]):
            continue
        q = local[part]
        sims = dense[rows[q]] @ dense[members].T
        # Not oneself: members are sorted, so a row's own place is found by bisection.
        at = np.minimum(np.searchsorted(members, rows[q]), len(members) - 1)
        own = np.flatnonzero(members[at] == rows[q])
        sims[own, at[own]] = -np.inf
        r, c = np.nonzero(sims >= keep_all[rows[q]][:, None])
        keys.append(keyed(rows[q[r]], members[c]))
        if len(members) > k:  # this cell's k nearest per row
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            sims = np.take_along_axis(sims, top, axis=1)
            cand = members[top]
        else:
            cand = np.broadcast_to(members, sims.shape)
        both_s = np.concatenate([best_s[q], sims], axis=1)
        both_j = np.concatenate([best_j[q], cand], axis=1)
        top = np.argpartition(-both_s, k - 1, axis=1)[:, :k]
        best_s[q] = np.take_along_axis(both_s, top, axis=1)
        best_j[q] = np.take_along_axis(both_j, top, axis=1)
    r, c = np.nonzero(best_s >= bound[rows][:, None])
    keys.append(keyed(rows[r], best_j[r, c]))
    return keys
