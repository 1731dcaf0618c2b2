"""How two articles' similarity is made: the fusions, their curves, language centring and
the event-day discount."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.represent.lexical import LexicalVectors
from dedup.represent.scale import (
    DAY_GAP_PENALTY,
    PUBLICATION_GAP_PENALTY,
    PUBLICATION_SLACK_DAYS,
    SHORT_CHARS,
)
from dedup.represent.similarity import Fusion, Linear, Representations


def test_fusion_is_the_linear_model_it_states() -> None:
    import scipy.sparse as sp

    from dedup.represent.similarity import Fusion, Linear

    def rows(*values: list[float]) -> sp.csr_matrix:
        return sp.csr_matrix(np.array(values, dtype=np.float32))

    a, b = [1.0, 0.0], [0.6, 0.8]
    lexical = LexicalVectors(
        entities=rows(a, b, a),
        stems=rows(a, b, b),
        title=rows(a, a, b),
    )
    # One model for pairs in one language, another across languages.
    fusion = Fusion(
        same=Linear(0.1, {"entities": 0.5, "title": 0.25}),
        cross=Linear(-0.1, {"sqrt_stems": 0.5, "entities": 0.25}),
    )
    reps = Representations(
        backend="lexical",
        langs=np.array([0, 0, 1], dtype=np.int32),
        days=np.full(3, -1),
        lexical=lexical,
        fusions={"lexical": fusion},
    )
    # (0,1) same language: entities 0.6, title 1; (0,2) across: stems 0.6, entities 1.
    expected = [0.1 + 0.5 * 0.6 + 0.25 * 1.0, -0.1 + 0.5 * np.sqrt(0.6) + 0.25 * 1.0]
    assert reps.pairs([0, 0], [1, 2]).tolist() == pytest.approx(expected, abs=1e-6)
    assert reps.block(np.array([0]))[0, 1:].tolist() == pytest.approx(expected, abs=1e-6)
    # The fused value is a similarity: clipped to [0, 1].
    loud = Fusion(same=Linear(0.9, {"entities": 1.0}), cross=Linear(-0.5, {"entities": 0.1}))
    clipped = dataclasses.replace(reps, fusions={"lexical": loud})
    assert clipped.pairs([0, 0], [1, 2]).tolist() == pytest.approx([1.0, 0.0])
    parts, fused, base = clipped.components(0, 2)
    assert parts == pytest.approx({"intercept": -0.5, "entities": 0.1}) and fused == base == 0.0


def test_shipped_fusions_cross_languages_on_evidence_that_crosses() -> None:
    from dedup.represent.calibration import shipped
    from dedup.represent.similarity import FEATURES

    for backend, fusion in ((b, f) for c in shipped() for b, f in c.fusions.items()):
        assert set(fusion.same.weights) <= set(FEATURES[backend]["same"])
        assert set(fusion.cross.weights) <= set(FEATURES[backend]["cross"])
        assert "title" not in fusion.cross.weights
        assert all(w >= 0 for w in (*fusion.same.weights.values(), *fusion.cross.weights.values()))


def test_language_centring_removes_the_shared_direction() -> None:
    from dedup.represent.scale import CENTRING_PRIOR, centre_by_language

    rng = np.random.default_rng(0)
    shared = np.array([5.0, 0, 0, 0])
    vectors = np.vstack([shared + rng.normal(size=4) for _ in range(40)]).astype(np.float32)
    langs = np.zeros(40, dtype=np.int32)
    raw = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    centred = centre_by_language(vectors, langs)
    assert np.allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-5)
    # Raw cosines are all high (one language); centred ones scatter around zero.
    assert (raw @ raw.T).mean() > 0.8
    assert abs((centred @ centred.T)[~np.eye(40, dtype=bool)].mean()) < 0.2
    # A lone article of another language barely moves: the mean is shrunk by n / (n + prior).
    lone = centre_by_language(vectors[:1], np.array([7]))
    assert np.allclose(lone, raw[:1], atol=1e-6)
    assert CENTRING_PRIOR > 1


def test_different_event_days_discount_similarity() -> None:
    m = np.ones((3, 2), dtype=np.float32) / np.sqrt(2)
    reps = Representations(
        backend="dense",
        langs=np.zeros(3, dtype=np.int32),
        days=np.array([340, 341, -1]),
        dense=m,
        dense_centred=m,
    )
    # one day apart: 1 / (1 + 2 * 1); an unknown day is never discounted
    assert reps.pairs([0, 0, 1], [1, 2, 2]).tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    wrap = Representations(
        backend="dense",
        langs=np.zeros(2, dtype=np.int32),
        days=np.array([1, 366]),
        dense=m[:2],
        dense_centred=m[:2],
    )
    assert wrap.pairs([0], [1]).tolist() == pytest.approx([1 / 3])  # 31 Dec ~ 1 Jan
    # Publication dates only: a day's lag between outlets is no evidence of two events.
    published = dataclasses.replace(wrap, stated=np.array([True, False]))
    assert published.pairs([0], [1]).tolist() == pytest.approx([1.0])
    # Coverage of one event spans days: a publication gap counts only past the slack, gently.
    days = np.array([1, 1 + PUBLICATION_SLACK_DAYS, 11 + PUBLICATION_SLACK_DAYS])
    far = dataclasses.replace(reps, stated=np.array([False, True, True]), days=days)
    assert far.pairs([0, 0], [1, 2]).tolist() == pytest.approx(
        [1.0, 1 / (1 + 10 * PUBLICATION_GAP_PENALTY)]
    )
    assert far.block(np.array([0]))[0, 1:].tolist() == pytest.approx(far.pairs([0, 0], [1, 2]))
    # Stated days keep their full discount: two meetings a day apart are two stories.
    stated = dataclasses.replace(far, stated=np.ones(3, dtype=bool))
    assert stated.pairs([0], [1])[0] == pytest.approx(1 / (1 + DAY_GAP_PENALTY * 5))


def test_curve_keeps_ends_and_order_and_spreads_the_middle() -> None:
    from dedup.represent.similarity import Curve

    curve = Curve(steepness=8.7, centre=0.37)
    x = np.linspace(0.0, 1.0, 101, dtype=np.float32)
    y = curve(x)
    assert y[0] == pytest.approx(0.0, abs=1e-6) and y[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(y) > 0)  # strictly increasing: no ranking changes, no ties
    assert y[40] - y[30] > 0.1 > y[100] - y[90]  # steep near the centre, flat at the top


def test_shipped_fusions_put_their_sum_on_a_fitted_curve() -> None:
    from dedup.represent.calibration import shipped

    for name, fusion in ((b, f) for c in shipped() for b, f in c.fusions.items()):
        assert fusion.curve is not None, name
        assert 0.0 < fusion.curve.centre < 1.0 and fusion.curve.steepness > 1.0


def _unit(angle: float) -> list[float]:
    return [float(np.cos(angle)), float(np.sin(angle))]


def test_across_languages_the_model_alone_is_enough_and_names_only_add() -> None:
    dense = np.array([_unit(0.0), _unit(1.0), _unit(1.0)], dtype=np.float32)  # cosine 0.54
    lexical = LexicalVectors(  # article 2 shares a name with 0; article 1 shares nothing
        entities=sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)),
        stems=sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)),
        title=sp.csr_matrix(np.eye(3, 2, dtype=np.float32)),
    )
    cross = Linear(-0.1, {"entities_x_stems": 1.0, "dense_centred": 0.5})
    alone = Linear(-0.05, {"dense_centred": 1.5})
    reps = Representations(
        backend="hybrid",
        langs=np.array([0, 1, 1], dtype=np.int32),
        days=np.full(3, -1),
        dense=dense,
        dense_centred=dense,
        lexical=lexical,
        fusions={"hybrid": Fusion(Linear(0.0, {"dense_centred": 1.0}), cross, alone=alone)},
    )
    cos = float(np.cos(1.0))
    # (0, 1): no shared word, as across scripts: the model's cosine alone decides.
    # (0, 2): the same cosine and a shared name: the cross model says more, and counts.
    assert reps.pairs([0, 0], [1, 2]).tolist() == pytest.approx(
        [-0.05 + 1.5 * cos, min(1.0, -0.1 + 1.0 + 0.5 * cos)], abs=1e-6
    )
    without = dataclasses.replace(
        reps, fusions={"hybrid": Fusion(Linear(0.0, {"dense_centred": 1.0}), cross)}
    )
    assert without.pairs([0], [1])[0] == pytest.approx(-0.1 + 0.5 * cos, abs=1e-6)
    # The explanation names the model that scored the pair.
    parts, fused, _ = reps.components(0, 1)
    assert parts == pytest.approx({"intercept": -0.05, "dense_centred": 1.5 * cos})
    assert fused == pytest.approx(-0.05 + 1.5 * cos, abs=1e-6)


def test_the_dense_evidence_of_short_texts_is_lifted_and_the_search_floor_allows_it() -> None:
    dense = np.array([_unit(0.0), _unit(1.2), _unit(1.2), _unit(0.1)], dtype=np.float32)
    reps = Representations(
        backend="dense",
        langs=np.zeros(4, dtype=np.int32),
        days=np.full(4, -1),
        dense=dense,
        dense_centred=dense,
        lengths=np.array([100, 120, SHORT_CHARS * 2, 80]),
        short_lift=0.5,
    )
    cos = float(np.cos(1.2))
    short = 1 - 120 / SHORT_CHARS  # the longer text of (0, 1) has 120 characters
    lifted = reps.pairs([0, 0, 0], [1, 2, 3]).tolist()
    # (0, 1) both short: lifted; (0, 2) one long: not lifted; (0, 3) lifted past 1: capped.
    assert lifted == pytest.approx([cos * (1 + 0.5 * short), cos, 1.0], abs=1e-6)
    assert reps.block(np.array([0]))[0, 1:].tolist() == pytest.approx(lifted, abs=1e-6)
    long = dataclasses.replace(reps, lengths=np.full(4, SHORT_CHARS))
    assert long.pairs([0], [1]).tolist() == pytest.approx([cos], abs=1e-6)
    # No pair whose cosine is under the floor the search stops at for either of its articles
    # is lifted to the floor; a long article's pairs are never lifted: its floor is the floor.
    floor = 0.6
    bound = reps.dense_floor(floor)
    assert bound[2] == pytest.approx(floor)
    assert bound[0] == pytest.approx(floor / (1 + 0.5 * (1 - 100 / SHORT_CHARS)))
    sims, cosines = reps.block(np.arange(4)), dense @ dense.T
    under = (cosines < bound[:, None]) & ~np.eye(4, dtype=bool)
    assert under.any() and (sims[under] < floor).all()
    assert long.dense_floor(floor).tolist() == pytest.approx([floor] * 4)
    assert long.rows(np.array([1, 2])).lengths.tolist() == [SHORT_CHARS, SHORT_CHARS]


def test_short_articles_are_centred_towards_the_mean_of_short_texts() -> None:
    from dedup.represent.scale import CENTRING_PRIOR, centred_share, length_prior

    long, short = np.array([1.0, 0.0], dtype=np.float32), np.array([0.0, 1.0], dtype=np.float32)
    prior = length_prior(long, short, np.array([SHORT_CHARS, 0, SHORT_CHARS // 2]))
    assert prior.ravel().tolist() == pytest.approx([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    assert length_prior(long, None, np.array([0])) is long
    # The lift trusts a centred cosine as far as its language's mean is the corpus's own.
    share = centred_share(np.array([0, 0, 1, -1], dtype=np.int32))
    p = CENTRING_PRIOR
    assert share.tolist() == pytest.approx([2 / (2 + p), 2 / (2 + p), 1 / (1 + p), 0.0])


def test_block_kernels_give_the_pairwise_sums() -> None:
    import scipy.sparse as sp

    from dedup.represent.kernels import block_pairs, cross_dot, rowwise_dense, rowwise_dot

    rng = np.random.default_rng(3)
    m = sp.random(40, 300, density=0.1, format="csr", dtype=np.float32, random_state=4)
    dense = rng.normal(size=(40, 16)).astype(np.float32)
    left, right = rng.integers(0, 40, 12), rng.integers(0, 40, 15)
    left_at, right_at = np.array([0, 5, 5, 12]), np.array([0, 1, 9, 15])
    i, j = block_pairs(left, left_at, right, right_at)
    assert len(i) == 5 * 1 + 0 * 8 + 7 * 6
    assert (i[:5] == left[:5]).all() and (j[:5] == right[0]).all()
    assert (j[5:11] == right[9:15]).all() and (i[5:11] == left[5]).all()
    assert np.array_equal(cross_dot(m, left, left_at, right, right_at), rowwise_dot(m, i, j))
    want = np.einsum("ij,ij->i", dense[i], dense[j])
    assert np.abs(rowwise_dense(dense, i, j) - want).max() < 1e-5


def test_pair_kernels_in_threads_give_one_threads_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.sparse as sp

    from dedup.represent import kernels

    rng = np.random.default_rng(5)
    m = sp.random(60, 500, density=0.08, format="csr", dtype=np.float32, random_state=6)
    dense = rng.normal(size=(60, 8)).astype(np.float32)
    sizes = rng.integers(0, 6, (2, 25))  # empty blocks among them
    left_at, right_at = (np.concatenate([[0], np.cumsum(s)]) for s in sizes)
    left, right = rng.integers(0, 60, left_at[-1]), rng.integers(0, 60, right_at[-1])
    i, j = kernels.block_pairs(left, left_at, right, right_at)

    def each() -> tuple[np.ndarray, ...]:
        return (
            kernels.rowwise_dot(m, i, j),
            kernels.cross_dot(m, left, left_at, right, right_at),
            kernels.rowwise_dense(dense, i, j),
        )

    alone = each()
    started: list[str] = []
    real = kernels.ThreadPoolExecutor

    def counted(workers: int, **kw: object) -> object:
        started.append(str(workers))
        return real(workers, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(kernels, "THREAD_MIN", 7)
    monkeypatch.setattr(kernels, "usable_cores", lambda: 3)
    monkeypatch.setattr(kernels, "ThreadPoolExecutor", counted)
    threaded = each()
    assert started == ["3", "3", "3"]  # every kernel cut its pairs into three parts
    for one, three in zip(alone, threaded, strict=True):
        assert one.dtype == three.dtype and np.array_equal(one, three)
    assert np.array_equal(alone[0], alone[1])
    empty = np.zeros(1, dtype=np.int64)
    assert len(kernels.cross_dot(m, left[:0], empty, right[:0], empty)) == 0


def _centred_whole(vectors: np.ndarray, langs: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    """Centring done on the whole corpus at once: what ``centre_by_language`` did before it
    took runs of rows (``prior`` one vector or one per article)."""
    from dedup.represent.scale import CENTRING_PRIOR

    out = np.array(vectors, dtype=np.float32, copy=True)
    for code in np.unique(langs):
        rows = langs == code
        n = float(rows.sum())
        mean = vectors[rows].mean(axis=0) * n
        if prior is not None:
            mean = mean + (prior[rows].mean(axis=0) if prior.ndim == 2 else prior) * CENTRING_PRIOR
        out[rows] -= mean / (n + CENTRING_PRIOR)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(out / norms, dtype=np.float32)


@pytest.mark.parametrize("rows", [1, 7, 64, 1 << 16])
@pytest.mark.parametrize("prior", ["none", "mean", "by length"])
def test_centring_a_run_of_rows_at_a_time_is_centring_the_whole_to_the_bit(
    rows: int, prior: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Languages of many articles, of one, unknown ones (-1), a zero vector, articles of every
    length: the centred vectors are those of the whole corpus centred at once, bit for bit."""
    import dedup.represent.scale as scale

    rng = np.random.default_rng(rows)
    vectors = (rng.normal(size=(500, 24)) + np.eye(24)[0] * 3).astype(np.float32)
    vectors[10] = 0.0
    langs = rng.choice(np.array([-1, 0, 1, 2, 5], dtype=np.int32), 500, p=[0.1, 0.5, 0.3, 0.1, 0])
    langs[77] = 5  # a language of one article
    lengths = rng.integers(0, 2 * SHORT_CHARS, 500).astype(np.int32)
    mean = rng.normal(size=24).astype(np.float32) if prior != "none" else None
    short = rng.normal(size=24).astype(np.float32) if prior == "by length" else None
    whole_prior = None if mean is None else scale.length_prior(mean, short, lengths)
    want = _centred_whole(vectors, langs, whole_prior)
    monkeypatch.setattr(scale, "CENTRE_ROWS", rows)
    got = scale.centre_by_language(vectors, langs, mean, short, lengths)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert not np.array_equal(got, _centred_whole(vectors, langs, None)) or prior == "none"
    # Made in the vectors themselves when the caller has no more use for them: the same bits.
    mine = vectors.copy()
    assert scale.centre_by_language(mine, langs, mean, short, lengths, overwrite=True) is mine
    assert np.array_equal(mine, want)
    # Vectors it cannot overwrite in float32 are left as they are.
    wide, fixed = vectors.astype(np.float64), vectors.copy()
    fixed.flags.writeable = False
    for given in (wide, fixed):
        kept = given.copy()
        assert np.array_equal(
            scale.centre_by_language(given, langs, mean, short, lengths, overwrite=True), want
        )
        assert np.array_equal(given, kept)
