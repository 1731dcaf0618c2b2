"""Candidate pairs: exact and approximate neighbours, and the time window."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.errors import InputError
from dedup.group import group
from dedup.link import (
    NO_DATE,
    Links,
    date_ordinals,
    distinct,
    end_type,
    find_links,
    link_ann,
    link_exact,
    resolve_method,
)
from dedup.represent.calibration import default
from dedup.represent.lexical import LexicalVectors
from dedup.represent.similarity import Representations
from tests.vectors import (
    FLOOR,
    THRESHOLD,
    pair_set,
    partition,
    reps_of,
    stories,
)


@pytest.mark.parametrize("size", [0, 1, 2, 7, 5_000])
@pytest.mark.parametrize("run", [3, 1 << 20])
def test_distinct_is_numpys_unique_and_works_in_place_only_when_asked(
    size: int, run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dedup.link.pairs as pairs

    monkeypatch.setattr(pairs, "COMPACT_RUN", run)  # runs of 3: a run's keys land in another
    keys = np.random.default_rng(size).integers(-50, 3 * size + 1, size)  # repeats, negatives
    given = keys.copy()
    assert np.array_equal(distinct(keys), np.unique(given))
    assert distinct(keys).dtype == keys.dtype
    assert np.array_equal(keys, given)  # left as it was
    found = distinct(keys, in_place=True)
    assert np.array_equal(found, np.unique(given))
    assert (size == 0 or np.shares_memory(found, keys)) and np.array_equal(
        keys[: len(found)], found
    )


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


@pytest.mark.parametrize("among", [False, True])
def test_ann_keeps_every_pair_a_short_text_lift_brings_over_the_threshold(among: bool) -> None:
    """The search's floor is each article's own: a short one's is lowered by its lift, a long
    one's is not (its pairs are never lifted). With every cell visited (nothing left to the
    approximation), every pair that reaches the threshold once lifted is still found."""
    x, _ = stories(300, seed=11)
    lengths = np.where(np.random.default_rng(3).random(len(x)) < 0.5, 60, 3000)
    reps = dataclasses.replace(reps_of(x), lengths=lengths, short_lift=1.5)
    rows = np.arange(reps.n)
    if among:
        rows = np.flatnonzero(np.random.default_rng(4).random(reps.n) < 0.8)
    exact = link_exact(reps.rows(rows), FLOOR)
    ann = link_ann(
        reps, FLOOR, k=16, nprobe=10_000, complete_at=THRESHOLD, among=rows if among else None
    )
    lifted = pair_set(exact, THRESHOLD) - pair_set(link_exact(reps_of(x[rows]), FLOOR), THRESHOLD)
    assert lifted  # the lift brought pairs over the threshold: they are what is checked
    assert {(int(rows[i]), int(rows[j])) for i, j in pair_set(exact, THRESHOLD)} == pair_set(
        ann, THRESHOLD
    )
    floors = reps.dense_floor(THRESHOLD)
    assert floors[lengths == 3000].tolist() == pytest.approx([THRESHOLD] * (lengths == 3000).sum())
    assert (floors[lengths == 60] < THRESHOLD).all()


@pytest.mark.parametrize("method", ["exact", "ann"])
def test_linking_some_articles_numbers_them_as_the_corpus_does(method: str) -> None:
    """``among`` (the first copies of a corpus with exact copies) links those articles as
    the corpus' own rows would be linked, without copying the corpus' representations."""
    x, _ = stories(200, seed=4)
    reps = reps_of(x)
    among = np.flatnonzero(np.random.default_rng(2).random(reps.n) < 0.7)
    alone = find_links(reps.rows(among), FLOOR, method=method, complete_at=THRESHOLD)
    found = find_links(reps, FLOOR, method=method, complete_at=THRESHOLD, among=among)
    assert found.i.tolist() == among[alone.i].tolist()
    assert found.j.tolist() == among[alone.j].tolist()
    assert np.allclose(found.sim, alone.sim, atol=1e-6)
    # The ends in int32, however they were found or numbered (half the links' memory).
    assert {a.dtype for a in (found.i, found.j, alone.i, alone.j)} == {np.dtype(np.int32)}


def test_the_ends_of_links_are_int32_until_a_corpus_outgrows_it() -> None:
    assert end_type(2**31 - 1) is np.int32 and end_type(2**31) is np.int64
    assert Links.empty().i.dtype == np.int32


def test_a_search_by_blocks_among_some_articles_is_the_whole_search_windowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The approximate search keys each cell's pairs, window applied, as it meets them, and
    reads the articles it links where they lie: by blocks of a few rows, among some of a
    corpus' articles, with a window, it finds the pairs one block over those articles' own
    rows finds without the window, less the ones the window drops."""
    import dedup.link as link

    x, _ = stories(300, seed=8)
    reps = reps_of(x)
    rng = np.random.default_rng(5)
    among = np.flatnonzero(rng.random(reps.n) < 0.75)
    days = rng.integers(0, 30, len(among)) + dt.date(2024, 1, 1).toordinal()
    days[rng.random(len(among)) < 0.1] = NO_DATE
    whole = link_ann(reps.rows(among), FLOOR, complete_at=THRESHOLD)
    monkeypatch.setattr(link, "QUERY_ROWS", 37)
    found = link_ann(reps, FLOOR, complete_at=THRESHOLD, among=among, dates=days, window_days=5)
    a, b = days[whole.i], days[whole.j]
    near = (a == NO_DATE) | (b == NO_DATE) | (np.abs(a - b) <= 5)
    assert 0.1 < near.mean() < 0.9  # the window drops some pairs and keeps others
    assert found.i.tolist() == among[whole.i[near]].tolist()
    assert found.j.tolist() == among[whole.j[near]].tolist()
    assert np.allclose(found.sim, whole.sim[near], atol=1e-6)


@pytest.mark.parametrize("among", [False, True])
def test_candidates_scored_a_slice_at_a_time_are_the_pairs_scored_at_once(
    among: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring moves the pairs kept to the front of the candidates as it goes: with slices
    of a few pairs, about half of them dropped, the links are the distinct candidates
    scored all at once and cut at the floor, in key order."""
    import dedup.link.pairs as pairs

    x, _ = stories(80, seed=6)
    reps = reps_of(x)
    rows = np.flatnonzero(np.random.default_rng(3).random(reps.n) < 0.8) if among else None
    n = reps.n if rows is None else len(rows)
    rng = np.random.default_rng(4)
    i, j = rng.integers(0, n, (2, 3000))
    i, j = np.minimum(i, j)[i != j], np.maximum(i, j)[i != j]
    found = list(np.array_split(i * n + j, 5))  # repeats across the parts
    key = np.unique(i * n + j)
    at_i, at_j = (key // n, key % n) if rows is None else (rows[key // n], rows[key % n])
    sims = reps.pairs(at_i, at_j)
    floor = float(np.median(sims))
    monkeypatch.setattr(pairs, "SCORE_SLICE", 7)
    monkeypatch.setattr(pairs, "COMPACT_RUN", 11)
    # The parts' freed space given back as they are joined: every two parts, and at the end.
    given_back: list[int] = []
    monkeypatch.setattr(
        pairs, "give_back_freed_memory", lambda: given_back.append(len(candidates.parts))
    )
    monkeypatch.setattr(pairs, "GIVE_BACK_BYTES", found[0].nbytes + found[1].nbytes - 8)
    candidates = pairs.Candidates(n, None)
    candidates.add(found)
    scored = pairs.scored(reps, candidates, floor, rows)
    assert isinstance(scored, Links)
    keep = sims >= floor
    assert found == [] and 0.3 < keep.mean() < 0.7
    assert given_back == [5, 5, 0]
    for got, want in ((scored.i, at_i[keep]), (scored.j, at_j[keep]), (scored.sim, sims[keep])):
        assert np.array_equal(got, want)
    assert scored.i.dtype == scored.j.dtype == np.int32 and scored.sim.dtype == np.float32


@pytest.mark.parametrize("among", [False, True])
def test_pairs_streamed_through_files_are_the_links_found_in_memory(
    among: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a spill directory the search writes each block's candidates into files by their
    first article's range and scores the ranges one after another: with blocks and ranges of
    a few dozen articles, among some of a corpus' articles and with a window, the links come
    back, chunk after chunk, as the ones found in memory, in the same order; their files go
    when they are let go of."""
    import dedup.link as link
    import dedup.link.pairs as pairs

    x, _ = stories(300, seed=9)
    reps = reps_of(x)
    rng = np.random.default_rng(2)
    rows = np.flatnonzero(rng.random(reps.n) < 0.75) if among else None
    days = rng.integers(0, 30, reps.n if rows is None else len(rows)) + 738000
    monkeypatch.setattr(link, "QUERY_ROWS", 37)
    monkeypatch.setattr(pairs, "PARTITION_ROWS", 23)
    found = {"complete_at": THRESHOLD, "among": rows, "dates": days, "window_days": 9}
    held = link_ann(reps, FLOOR, **found)
    spilled = link_ann(reps, FLOOR, spill=tmp_path, **found)
    assert isinstance(held, Links) and isinstance(spilled, pairs.SpilledLinks)
    assert len(spilled) == len(held) > 200
    (directory,) = tmp_path.iterdir()
    assert sorted(p.name for p in directory.iterdir()) == ["i", "j", "sim"]  # the keys' gone
    chunks = list(spilled.chunks(50))
    assert [len(c) for c in chunks] == [len(c) for c in held.chunks(50)]
    for name in ("i", "j", "sim"):
        got = np.concatenate([getattr(c, name) for c in chunks])
        assert got.dtype == getattr(held, name).dtype
        assert np.array_equal(got, getattr(held, name))
    del spilled, chunks
    assert not directory.exists()


def test_pairs_that_cannot_be_kept_on_disk_are_one_error(tmp_path: Path) -> None:
    """No directory to spill into, or its files gone under a run: one error that says
    where, never a traceback of numpy's."""
    from dedup.errors import ScratchError
    from dedup.link.pairs import SpilledLinks

    with pytest.raises(ScratchError, match=r"cannot make a directory for the pairs in .*nowhere"):
        SpilledLinks(tmp_path / "nowhere", np.int32)
    spilled = SpilledLinks(tmp_path, np.int32)
    spilled.append(Links(np.array([0, 1]), np.array([2, 3]), np.array([0.5, 0.6])))
    spilled.close()
    with pytest.raises(ScratchError, match="cannot read the pairs kept in"):
        list(spilled.chunks())
    with pytest.raises(ScratchError, match="cannot keep the pairs in"):
        spilled.append(Links.empty())


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
    days = [dt.date(2024, 1, 1), dt.date(2024, 1, 3), dt.date(2024, 1, 11)]
    dates = date_ordinals(np.array([*(d.toordinal() for d in days), 0]))
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


def test_a_run_streams_its_pairs_through_tmpdir_and_makes_the_report_it_makes_in_memory(  # type: ignore[no-untyped-def]
    tiny_model_dir, tmp_path, monkeypatch
) -> None:
    """A run links through files under TMPDIR (the approximate search, candidates in ranges
    of a few articles): the same report as with its pairs in memory, and nothing left
    behind."""
    import tempfile

    from conftest import SAMPLES

    import dedup.link.pairs as pairs
    import dedup.pipeline as pipeline
    from dedup.config import Settings

    settings = Settings(
        backend="hybrid", model=str(tiny_model_dir), device="cpu", cache=tmp_path / "cache",
        neighbours="ann",
    )  # fmt: skip
    monkeypatch.setattr(pairs, "PARTITION_ROWS", 5)
    made: list[str] = []
    real = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(real(**kw)) or made[-1])
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    streamed = pipeline.run([str(SAMPLES)], settings)
    assert len(made) == 1 and made[0].startswith(str(spill)) and not any(spill.iterdir())
    monkeypatch.setattr(pipeline.tempfile, "gettempdir", lambda: None)  # in memory
    held = pipeline.run([str(SAMPLES)], settings)
    assert len(made) == 1
    assert pipeline.labels_for(streamed) == pipeline.labels_for(held)
    assert streamed.related == held.related and len(streamed.stories) >= 3
