"""Candidate pairs (exact and approximate), the time window, and grouping on sparse links."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.config import Settings
from dedup.errors import InputError
from dedup.group import _average_linkage, _sparse_average_linkage, group
from dedup.link import (
    NO_DATE,
    date_ordinals,
    find_links,
    link_ann,
    link_exact,
    resolve_method,
)
from dedup.represent.calibration import default
from dedup.represent.lexical import LexicalVectors
from dedup.represent.similarity import Representations

THRESHOLD = 0.72
FLOOR = 0.36


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


def test_ann_agrees_with_exact_on_structured_vectors() -> None:
    x, truth = stories(400)
    reps = reps_of(x)
    exact = link_exact(reps, FLOOR)
    ann = link_ann(reps, FLOOR, k=16, complete_at=THRESHOLD)
    # Every pair that can join a story is found, with the same similarity.
    assert pair_set(ann, THRESHOLD) == pair_set(exact, THRESHOLD)
    assert len(ann.i) < len(exact.i)  # related pairs beyond k were not kept
    assert np.all(ann.i < ann.j) and np.all(ann.sim >= FLOOR)
    by_exact = group(reps, exact, THRESHOLD)
    assert partition(group(reps, ann, THRESHOLD)) == partition(by_exact)
    assert partition(by_exact) == partition(truth)


def test_a_story_larger_than_k_keeps_all_its_pairs() -> None:
    x, _ = stories(60, seed=3)
    big = np.tile(x[:1], (40, 1)) + np.random.default_rng(0).normal(scale=0.01, size=(40, 48))
    x = np.concatenate([x, big / np.linalg.norm(big, axis=1, keepdims=True)]).astype(np.float32)
    reps = reps_of(x)
    ann = link_ann(reps, FLOOR, k=4, complete_at=THRESHOLD)
    assert pair_set(ann, THRESHOLD) == pair_set(link_exact(reps, FLOOR), THRESHOLD)


def test_ann_is_order_independent_on_clear_structure() -> None:
    x, _ = stories(300, seed=5)
    perm = np.random.default_rng(1).permutation(len(x))
    base = group(reps_of(x), link_ann(reps_of(x), FLOOR, complete_at=THRESHOLD), THRESHOLD)
    shuffled_reps = reps_of(x[perm])
    shuffled = group(
        shuffled_reps, link_ann(shuffled_reps, FLOOR, complete_at=THRESHOLD), THRESHOLD
    )
    assert partition(shuffled, perm) == partition(base)


def test_auto_picks_by_size_and_needs_dense_vectors() -> None:
    small = reps_of(np.eye(3, dtype=np.float32))
    assert resolve_method(small, "auto") == "exact"
    assert resolve_method(small, "ann") == "ann"
    eye = sp.csr_matrix(np.eye(2, dtype=np.float32))
    lexical = Representations(
        backend="lexical",
        langs=np.zeros(2, dtype=np.int32),
        days=np.full(2, -1),
        lexical=LexicalVectors(entities=eye, stems=eye, title=eye),
        fusions=default().fusions,
    )
    assert resolve_method(lexical, "ann") == "exact"
    with pytest.raises(InputError, match="unknown neighbour method"):
        resolve_method(small, "hnsw")


def test_window_never_compares_far_apart_articles() -> None:
    # Four copies of one vector: days 0, 2, 10 and unknown.
    x = np.ones((4, 8), dtype=np.float32) / np.sqrt(8)
    dates = date_ordinals([dt.date(2024, 1, 1), dt.date(2024, 1, 3), dt.date(2024, 1, 11), None])
    assert dates[3] == NO_DATE
    reps = reps_of(x)
    expected = {(0, 1), (0, 3), (1, 3), (2, 3)}  # 0~2 and 1~2 are 10 and 8 days apart
    for method in ("exact", "ann"):
        links = find_links(reps, 0.5, method=method, dates=dates, window_days=3)
        assert pair_set(links, 0.5) == expected, method
        unwindowed = find_links(reps, 0.5, method=method, dates=dates)
        assert len(pair_set(unwindowed, 0.5)) == 6
    # The window bounds the work: blocks of rows in date order meet only nearby columns.
    blocked = link_exact(reps, 0.5, block_rows=1, dates=dates, window_days=3)
    assert pair_set(blocked, 0.5) == expected


def test_window_with_many_dates_matches_a_filter_of_all_pairs() -> None:
    x, _ = stories(80, seed=2)
    rng = np.random.default_rng(4)
    dates = rng.integers(700_000, 700_060, size=len(x)).astype(np.int64)
    dates[rng.random(len(x)) < 0.2] = NO_DATE
    reps = reps_of(x)
    everything = link_exact(reps, FLOOR)
    a, b = dates[everything.i], dates[everything.j]
    ok = (a == NO_DATE) | (b == NO_DATE) | (np.abs(a - b) <= 7)
    expected = set(zip(everything.i[ok].tolist(), everything.j[ok].tolist(), strict=True))
    windowed = link_exact(reps, FLOOR, block_rows=16, dates=dates, window_days=7)
    assert pair_set(windowed, FLOOR) == expected


def test_sparse_linkage_equals_scipy_on_complete_graphs() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x, _ = stories(6, seed=int(rng.integers(1000)), dim=16)
        sims = reps_of(x).matrix(np.arange(len(x)))
        upper = np.triu_indices(len(x), 1)
        sparse = _sparse_average_linkage(len(x), *upper, sims[upper], 0.7)
        dense = _average_linkage(sims, 0.7)
        assert {frozenset(g.tolist()) for g in sparse} == {frozenset(g.tolist()) for g in dense}


def test_sparse_linkage_does_not_glue_a_chain() -> None:
    # A~B and B~C strong, A~C not a link (counts as 0): the mean 0.45 stays below 0.7.
    groups = _sparse_average_linkage(
        3, np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.8]), 0.7
    )
    assert sorted(g.tolist() for g in groups) == [[0, 1], [2]]


def test_large_components_go_sparse_and_keep_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    x, _ = stories(150, seed=9)
    reps = reps_of(x)
    links = link_exact(reps, FLOOR)
    expected = partition(group(reps, links, THRESHOLD))
    monkeypatch.setattr("dedup.group.EXACT_COMPONENT_MAX", 2)  # every component is "large"
    assert partition(group(reps, links, THRESHOLD)) == expected
    # A chain of 30 articles 10 degrees apart (next: 0.985, two on: 0.94): one component at
    # 0.95, but no four of them reach a mean of 0.95, so it falls into groups of 2 or 3.
    rad = np.radians(np.arange(30) * 10.0)
    chain = reps_of(np.stack([np.cos(rad), np.sin(rad), np.zeros(30)], axis=1))
    labels = group(chain, link_exact(chain, FLOOR), 0.95)
    assert 2 <= np.bincount(labels).max() <= 3


def test_settings_validate_the_neighbour_options() -> None:
    with pytest.raises(InputError, match="unknown neighbours"):
        Settings(neighbours="hnsw")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="window days"):
        Settings(window_days=-1)
    with pytest.raises(InputError, match="neighbour k"):
        Settings(neighbour_k=0)
