"""Grouping (average linkage on exact and sparse links), story description, related stories:
on hand-made vectors, no model, exact expectations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from dedup import group as group_module
from dedup.group import describe, group, related_pairs
from dedup.link import (
    Links,
    link_exact,
)
from dedup.linkage import AT_THRESHOLD, agglomerate, zero_rule
from tests.vectors import (
    FLOOR,
    angle_reps,
    dense_reps,
    labels_of,
    partition,
    reps_of,
    stories,
)


def test_two_tight_groups_and_a_loner() -> None:
    # cos(10 deg) = 0.985 inside groups; the groups are 90 deg apart.
    reps = angle_reps([0, 10, 90, 100, 200])
    assert labels_of(reps, 0.9) == [0, 0, 1, 1, 2]


def test_chain_does_not_glue_ends() -> None:
    # A~B and B~C are each cos(40 deg) = 0.766 >= 0.7, but A~C is cos(80 deg) = 0.17:
    # single linkage would make one story; average linkage keeps A+B (or B+C) and C apart.
    reps = angle_reps([0, 40, 80])
    labels = labels_of(reps, 0.7)
    assert len(set(labels)) == 2
    assert labels[0] != labels[2]


def test_threshold_is_inclusive() -> None:
    reps = dense_reps([[1, 0], [0.8, 0.6]])  # cosine exactly 0.8
    assert labels_of(reps, 0.8) == [0, 0]
    assert labels_of(reps, 0.8001) == [0, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_partition_in_any_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16))
    points = np.repeat(centres, 5, axis=0) + rng.normal(scale=0.2, size=(30, 16))
    base = labels_of(dense_reps(points.tolist()), 0.75)
    perm = rng.permutation(30)
    shuffled = labels_of(dense_reps(points[perm].tolist()), 0.75)
    as_sets = lambda labels, idx: {  # noqa: E731
        frozenset(int(idx[k]) for k in range(30) if labels[k] == lab) for lab in set(labels)
    }
    assert as_sets(base, np.arange(30)) == as_sets(shuffled, perm)
    assert len(set(base)) == 6


def test_describe_orders_by_centrality_and_measures_cohesion() -> None:
    reps = angle_reps([0, 10, 20])
    labels = np.zeros(3, dtype=np.int64)
    (g,) = describe(reps, labels)
    assert g.members.tolist()[0] == 1  # the middle one is the medoid
    assert g.centre_similarity[0] == pytest.approx(1.0)
    assert g.cohesion_min == pytest.approx(np.cos(np.radians(20)), abs=1e-5)
    mean = (2 * np.cos(np.radians(10)) + np.cos(np.radians(20))) / 3
    assert g.cohesion_mean == pytest.approx(mean, abs=1e-5)


def test_related_pairs_between_neighbouring_stories() -> None:
    # Two stories 50 deg apart: cross gaps 55, 60, 50 and 55 deg, mean cosine 0.5725.
    reps = angle_reps([0, 5, 55, 60, 180])
    links = link_exact(reps, floor=0.5)
    labels = group(reps, links, 0.9)
    assert labels.tolist() == [0, 0, 1, 1, 2]
    rel = related_pairs(reps, labels, links, floor=0.5, threshold=0.9)
    assert [(a, b) for a, b, _ in rel] == [(0, 1)]
    gaps = np.radians([55, 60, 50, 55])
    assert rel[0][2] == pytest.approx(np.cos(gaps).mean(), abs=1e-5)


def scipy_average_linkage(sims: np.ndarray, threshold: float) -> set[frozenset[int]]:
    """The reference: scipy's average linkage on the full matrix, cut at the threshold."""
    distance = np.clip(1.0 - sims.astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    flat = fcluster(tree, t=1.0 - threshold + AT_THRESHOLD, criterion="distance")
    return {frozenset(np.flatnonzero(flat == k).tolist()) for k in np.unique(flat)}


def groups_of(parent: list[int]) -> set[frozenset[int]]:
    root = list(range(len(parent)))
    for x, p in enumerate(parent):
        root[x] = root[p]
    return {frozenset(x for x in range(len(root)) if root[x] == r) for r in set(root)}


def test_linkage_on_complete_graphs_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x, _ = stories(6, seed=int(rng.integers(1000)), dim=16)
        sims = reps_of(x).matrix(np.arange(len(x)))
        upper = np.triu_indices(len(x), 1)
        n = len(x)
        parent = zero_rule(np.ones(n), Links(*upper, sims[upper]), 0.7)
        assert groups_of(parent) == scipy_average_linkage(sims, 0.7)


@pytest.mark.parametrize("seed", range(6))
def test_linkage_on_links_above_a_floor_equals_scipy_on_every_pair(seed: int) -> None:
    """Only the pairs at or above the floor are links; the others are scored when two groups
    come close enough to need them: the stories of average linkage on the full matrix."""
    x, _ = stories(40, seed=seed, dim=16)
    reps = reps_of(x)
    n = reps.n
    sims = reps.matrix(np.arange(n))
    scored: list[int] = []

    def cross_sum(a: np.ndarray, b: np.ndarray) -> float:
        scored.append(len(a) * len(b))
        return float(sims[np.ix_(a, b)].sum())

    for floor in (0.3, 0.5, 0.72):
        links = link_exact(reps, floor)
        parent = agglomerate(
            np.arange(n), np.ones(n), links.i, links.j, links.sim, 0.72, floor, cross_sum
        )
        assert groups_of(parent) == scipy_average_linkage(sims, 0.72), floor
        labels = group(reps, links, 0.72, floor=floor)
        assert partition(labels) == {frozenset(g) for g in scipy_average_linkage(sims, 0.72)}
    assert sum(scored) < n * (n - 1) // 2  # far from every pair


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_zero_rule_is_average_linkage_with_every_unknown_pair_at_zero(
    seed: int,
) -> None:
    """Without a scorer the loop runs compiled: scipy's average linkage on the matrix whose
    pairs below the floor are 0, from start groups and weights as from single articles."""
    x, _ = stories(40, seed=seed, dim=16)
    reps = reps_of(x)
    n = reps.n
    sims = reps.matrix(np.arange(n))
    for floor in (0.3, 0.5, 0.72):
        links = link_exact(reps, floor)
        zeroed = np.zeros_like(sims)
        zeroed[links.i, links.j] = zeroed[links.j, links.i] = links.sim
        np.fill_diagonal(zeroed, 1.0)
        parent = zero_rule(np.ones(n), links, 0.72)
        assert groups_of(parent) == scipy_average_linkage(zeroed, 0.72), floor
        # article 0 standing for three: scipy sees its two extra copies as articles
        copies = np.concatenate([np.arange(n), [0, 0]])
        weighed = zeroed[np.ix_(copies, copies)]
        parent = zero_rule(np.r_[3.0, np.ones(n - 1)], links, 0.72)
        want = {frozenset(k if k < n else 0 for k in g) for g in
                scipy_average_linkage(weighed, 0.72)}  # fmt: skip
        assert groups_of(parent) == want, floor


@pytest.mark.parametrize("seed", range(4))
def test_group_links_big_components_on_the_zero_rule(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Components over EXACT_COMPONENT_MAX articles are linked on the run's links as they are
    (zero_rule reads them through each pass's node numbers): scipy's average linkage on the
    matrix whose pairs that are not links are 0, exact copies counted as articles."""
    monkeypatch.setattr(group_module, "EXACT_COMPONENT_MAX", 0)
    x, _ = stories(40, seed=seed, dim=16)
    n = len(x)
    copies = np.arange(0, n, 7)  # every seventh article twice more, after the others
    every = np.concatenate([np.arange(n), copies, copies])
    copy_of = np.concatenate([np.arange(n), copies, copies])
    reps = reps_of(x[every])
    links = link_exact(reps_of(x), 0.5)  # between the first of each kind only
    zeroed = np.zeros((n, n))
    zeroed[links.i, links.j] = zeroed[links.j, links.i] = links.sim
    zeroed = zeroed[np.ix_(every, every)]
    zeroed[every[:, None] == every[None, :]] = 1.0
    labels = group(reps, links, 0.72, copy_of, floor=0.5)
    assert partition(labels) == scipy_average_linkage(zeroed, 0.72)


@pytest.mark.parametrize("big", [0, 10**9])
def test_links_read_back_from_disk_a_few_at_a_time_group_as_the_links_in_memory(
    big: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grouping reads the links a chunk at a time (components, the links inside them, the
    zero rule's two passes, related stories): links on disk read back seven at a time give
    the stories and related stories the same links in memory give, on the zero rule (every
    component over ``EXACT_COMPONENT_MAX``) and on the general loop, with copies."""
    import dedup.link.pairs as pairs

    monkeypatch.setattr(group_module, "EXACT_COMPONENT_MAX", big)
    x, _ = stories(120, seed=3, dim=16)
    n = len(x)
    copy_of = np.concatenate([np.arange(n), np.arange(0, n, 9)])
    reps = reps_of(x[copy_of])
    held = link_exact(reps_of(x), 0.45)
    spilled = pairs.SpilledLinks(tmp_path, np.int32)
    for part in held.chunks(100):
        spilled.append(part)
    monkeypatch.setattr(pairs, "CHUNK", 7)
    labels = group(reps, held, 0.72, copy_of, floor=0.45)
    assert len(set(labels.tolist())) < n - 20  # stories of several articles
    assert np.array_equal(group(reps, spilled, 0.72, copy_of, floor=0.45), labels)
    related = related_pairs(reps, labels, held, 0.45, 0.72)
    assert related and related_pairs(reps, labels, spilled, 0.45, 0.72) == related


def test_copies_weigh_as_articles_on_the_zero_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # A~B 0.9, B~C 0.8, A~C 0.46 (below the floor: not a link, so 0). B and ten copies of it:
    # {A, B x 11} against C averages (11 x 0.8 + 0) / 12 = 0.73, which reaches 0.72; with B
    # alone, (0.8 + 0) / 2 = 0.4 does not.
    monkeypatch.setattr(group_module, "EXACT_COMPONENT_MAX", 0)
    degrees = [0.0, 25.84, 62.71]
    links = link_exact(angle_reps(degrees), 0.5)
    assert len(links.i) == 2
    alone = group(angle_reps(degrees), links, 0.72, floor=0.5)
    assert partition(alone) == {frozenset({0, 1}), frozenset({2})}
    copied = group(angle_reps(degrees + [25.84] * 10), links, 0.72, [0, 1, 2] + [1] * 10, floor=0.5)
    assert partition(copied) == {frozenset(range(13))}


def test_unknown_pairs_count_as_zero_without_a_scorer() -> None:
    # A~B and B~C strong, A~C not a link (counts as 0): the mean 0.45 stays below 0.7.
    links = Links(np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.8]))
    parent = zero_rule(np.ones(3), links, 0.7)
    assert groups_of(parent) == {frozenset({0, 1}), frozenset({2})}


def test_start_groups_and_weights_count_as_their_articles() -> None:
    # Groups {0, 1} and {2}; node 2 stands for 3 articles. Cross pairs 0-2 (0.9) and 1-2
    # (0.5), each weighing 3: mean (2.7 + 1.5) / 6 = 0.7, exactly the threshold.
    sims = {(0, 2): 0.9, (1, 2): 0.5}

    def cross_sum(a: np.ndarray, b: np.ndarray) -> float:
        w = [1, 1, 3]
        return sum(sims[min(x, y), max(x, y)] * w[x] * w[y] for x in a for y in b)

    i, j, s = np.array([0]), np.array([2]), np.array([0.9])
    start, weights = np.array([0, 0, 1]), np.array([1, 1, 3])
    assert agglomerate(start, weights, i, j, s, 0.7, 0.6, cross_sum) == [0, 0]
    assert agglomerate(start, weights, i, j, s, 0.7001, 0.6, cross_sum) == [0, 1]


def test_a_chain_falls_into_small_groups() -> None:
    # A chain of 30 articles 10 degrees apart (next: 0.985, two on: 0.94): one component at
    # 0.95, but no four of them reach a mean of 0.95, so it falls into groups of 2 or 3.
    rad = np.radians(np.arange(30) * 10.0)
    chain = reps_of(np.stack([np.cos(rad), np.sin(rad), np.zeros(30)], axis=1))
    labels = group(chain, link_exact(chain, FLOOR), 0.95, floor=FLOOR)
    assert 2 <= np.bincount(labels).max() <= 3


def test_languages_that_never_share_a_story_beside_ones_that_do_are_said() -> None:
    from dedup.group import SCALE_CHECK_PER_LANGUAGE, scale_warning

    n = SCALE_CHECK_PER_LANGUAGE
    names = ["en", "fr", "zh"]
    langs = np.repeat(np.arange(3, dtype=np.int32), n)  # n articles in each
    labels = np.arange(3 * n)  # every article a story of its own
    # Half the English and French articles share a story with each other; Chinese, none.
    labels[n : n + n // 2] = labels[: n // 2]
    warning = scale_warning(langs, labels, names)
    assert warning is not None
    assert warning.startswith("articles in zh next to never share a story with another language,")
    assert "while 50% or more of those in en, fr do" in warning
    assert "dedup evaluate clusters" in warning
    # One Chinese article in such a story is still next to none (1 in 50); five are not.
    told = labels.copy()
    told[2 * n] = labels[0]
    assert scale_warning(langs, told, names) is not None
    told[2 * n : 2 * n + 5] = labels[:5]
    assert scale_warning(langs, told, names) is None
    # Languages that all keep apart (each outlet's own news) are no sign of anything, nor are
    # languages too small to judge.
    assert scale_warning(langs, np.arange(3 * n), names) is None
    small = np.concatenate([langs[: 2 * n], np.full(n - 1, 2, dtype=np.int32)])
    assert scale_warning(small, labels[: 3 * n - 1], names) is None


def test_blocks_of_pairs_score_as_the_pairs_do(tiny_model_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Related stories are measured block by block (a story's articles by another's): the
    same similarities as pair by pair, on a real hybrid corpus (the seeds where CI has them,
    else samples/; the tiny model)."""
    from conftest import SAMPLES

    from dedup.config import Settings
    from dedup.pipeline import read_and_prepare

    seeds = SAMPLES.parent.parent / "shared" / "seeds"
    corpus = seeds if seeds.is_dir() else SAMPLES
    settings = Settings(backend="hybrid", model=str(tiny_model_dir), device="cpu", cache=tmp_path)
    reps = read_and_prepare([str(corpus)], settings).represented.reps
    assert reps.lexical is not None and reps.dense is not None
    rng = np.random.default_rng(5)
    left = rng.integers(0, reps.n, 9)
    right = rng.integers(0, reps.n, 11)
    left_at, right_at = np.array([0, 2, 2, 7, 9]), np.array([0, 3, 4, 11, 11])  # empty blocks too
    blocks = list(zip(left_at, left_at[1:], right_at, right_at[1:], strict=False))
    i = np.concatenate([np.repeat(left[a:b], d - c) for a, b, c, d in blocks])
    j = np.concatenate([np.tile(right[c:d], b - a) for a, b, c, d in blocks])
    got = reps.cross(left, left_at, right, right_at)
    assert len(got) == 2 * 3 + 0 * 1 + 5 * 7 + 0
    assert np.abs(got - reps.pairs(i, j)).max() < 1e-6
    assert got.min() < 0.5 < got.max()  # not all one value


def test_a_run_that_groups_keeps_the_centred_vectors_alone_and_makes_the_same_stories(  # type: ignore[no-untyped-def]
    tiny_model_dir, tmp_path, monkeypatch
) -> None:
    """A run that only groups keeps no raw dense vectors (the centred ones are made in their
    place): the same centred vectors and the same stories as a prepared corpus that keeps
    both; the raw cosine asked of it is an error, never another number; and a fusion that
    weighs the raw cosine keeps them."""
    from conftest import SAMPLES

    from dedup.config import Settings
    from dedup.pipeline import labels_for, read_and_prepare, report_from, run
    from dedup.represent.similarity import Fusion

    settings = Settings(backend="hybrid", model=str(tiny_model_dir), device="cpu", cache=tmp_path)
    inputs = [str(SAMPLES / "articles")]
    kept = read_and_prepare(inputs, settings)
    alone = read_and_prepare(inputs, settings, raw=False)  # its vectors from the cache
    both, centred = kept.represented.reps, alone.represented.reps
    assert both.dense is not None and centred.dense is None and centred.dense_centred is not None
    assert np.array_equal(centred.dense_centred, both.dense_centred)
    report = report_from(alone, settings)
    assert labels_for(report) == labels_for(report_from(kept, settings))
    assert report.related == report_from(kept, settings).related
    assert labels_for(run(inputs, settings)) == labels_for(report)
    assert "dense" not in centred.features([0], [1]) and "dense" in both.features([0], [1])
    with pytest.raises(ValueError, match="raw dense vectors were not kept"):
        centred.features([0], [1], {"dense"})
    monkeypatch.setattr(Fusion, "needs", property(lambda self: frozenset({"dense"})))
    assert read_and_prepare(inputs, settings, raw=False).represented.reps.dense is not None


def test_a_corpus_handed_over_lets_go_of_its_representations_before_the_report_is_made(  # type: ignore[no-untyped-def]
    tiny_model_dir, tmp_path, monkeypatch
) -> None:
    """Handed over (a list report_from empties, what run() does), a prepared corpus' vectors
    and lexical rows are freed once grouped, before its stories make an object of every
    article; with --explain they are kept for the evidence; given as itself it is left whole
    and reports the same stories again (a sweep). The articles a run holds are columns."""
    import dataclasses
    import weakref

    from conftest import SAMPLES

    import dedup.pipeline as pipeline
    from dedup.columns import ArticleColumns
    from dedup.config import Settings

    settings = Settings(backend="hybrid", model=str(tiny_model_dir), device="cpu", cache=tmp_path)
    inputs = [str(SAMPLES / "articles")]
    alive: list[bool] = []
    real = pipeline._stories

    def noting(*args, **kwargs):  # type: ignore[no-untyped-def]
        alive.append(held() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_stories", noting)
    prepared = pipeline.read_and_prepare(inputs, settings, raw=False)
    assert isinstance(prepared.articles, ArticleColumns)
    held = weakref.ref(prepared.represented.reps)
    whole = pipeline.report_from(prepared, settings)
    assert alive == [True] and held() is not None
    assert pipeline.labels_for(pipeline.report_from(prepared, settings)) == pipeline.labels_for(
        whole
    )
    handed = [prepared]
    del prepared
    report = pipeline.report_from(handed, settings)
    assert handed == [] and alive[-1] is False and held() is None
    assert pipeline.labels_for(report) == pipeline.labels_for(whole)
    assert report.related == whole.related
    handed = [pipeline.read_and_prepare(inputs, settings, raw=False)]
    held = weakref.ref(handed[0].represented.reps)
    explained = pipeline.report_from(handed, dataclasses.replace(settings, explain=True))
    assert alive[-1] is True and explained.explanations
