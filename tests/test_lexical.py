"""The model-free profile: what it keeps as evidence, and that it crosses languages."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dedup.models import Article
from dedup.represent.lexical import (
    LexicalCounts,
    fold,
    lexical_vectors,
    profile,
    rarity,
    shared_evidence,
)


def art(title: str, text: str, lang: str) -> Article:
    return Article(id=title, title=title, text=text, lang=lang)


def test_fold_transliterates_and_lowercases() -> None:
    assert fold("Tô Lâm, Hà Nội, Москва") == "to lam, ha noi, moskva"


def test_common_words_weigh_nothing_and_names_most() -> None:
    assert rarity("the", "en") == 0.0
    assert rarity("nvidia", "en") > rarity("semiconductor", "en") > rarity("said", "en")


def test_names_join_across_spellings() -> None:
    en = profile(
        art("Leader visits Hanoi", "On Friday Party chief To Lam met guests in Viet Nam.", "en")
    )
    vi = profile(art("Tin", "Chiều 6/12, Tổng Bí thư Tô Lâm tiếp khách tại Việt Nam.", "vi"))
    assert "tolam" in en.entities and "tolam" in vi.entities
    assert "vietnam" in en.entities and "vietnam" in vi.entities


def test_days_in_many_languages_meet() -> None:
    texts = {
        "en": "The meeting took place on December 6, 2024 in Hanoi.",
        "de": "Das Treffen fand am 6. Dezember statt.",
        "vi": "Chiều 6.12, hai bên đã gặp nhau.",
        "es": "La reunión fue el 6 de diciembre.",
    }
    for lang, text in texts.items():
        assert "@12-06" in profile(art("x", text, lang)).entities, lang


def test_numbers_drop_thousands_separators() -> None:
    en = profile(art("x", "They will train 50,000 engineers by 2030.", "en"))
    vi = profile(art("x", "Đào tạo 50.000 kỹ sư đến năm 2030.", "vi"))
    assert {"#50000", "#2030"} <= en.entities.keys() & vi.entities.keys()


def test_sentence_start_capital_is_not_a_name() -> None:
    p = profile(art("x", "The minister spoke. Yesterday the talks ended.", "en"))
    assert "theminister" not in p.entities and "the" not in p.entities


def test_same_story_across_languages_beats_other_story_in_same_language() -> None:
    en = art(
        "NVIDIA chief Jensen Huang meets To Lam in Hanoi",
        "On December 6 General Secretary To Lam received Jensen Huang of NVIDIA in Hanoi.",
        "en",
    )
    vi = art(
        "Tổng Bí thư Tô Lâm tiếp Chủ tịch NVIDIA Jensen Huang",
        "Chiều 6.12, tại Hà Nội, Tổng Bí thư Tô Lâm tiếp Chủ tịch Tập đoàn NVIDIA Jensen Huang.",
        "vi",
    )
    other = art(
        "Thủ tướng tiếp Phó Thủ tướng Belarus",
        "Chiều 2.4, tại Hà Nội, Thủ tướng Phạm Minh Chính tiếp Phó Thủ tướng Belarus.",
        "vi",
    )
    vectors = lexical_vectors([en, vi, other])
    ent = (vectors.entities @ vectors.entities.T).toarray()
    assert ent[0, 1] > 2 * ent[1, 2]
    assert np.allclose(np.diag(ent), 1.0, atol=1e-5)
    evidence = [t for t, _ in shared_evidence(profile(en), profile(vi))]
    assert "jensenhuang" in evidence and "@12-06" in evidence


def test_stems_meet_across_inflection_and_common_words_weigh_nothing() -> None:
    de = profile(art("x", "Die Regierungen Deutschlands beraten über Impfstoffe.", "de"))
    en = profile(art("x", "The government of Germany discusses the vaccines.", "en"))
    assert "regi" in de.stems and "germ" in en.stems
    assert "the" not in en.stems  # "the" is as common as words get: its stem weighs nothing
    # Vietnamese syllables of titles are common words: they give no stem weight either.
    vi = profile(art("x", "Tổng Bí thư Tô Lâm tiếp Chủ tịch Tập đoàn NVIDIA.", "vi"))
    assert "nvid" in vi.stems
    assert vi.stems.get("chu", 0.0) < vi.stems["nvid"] / 2


def test_scripts_without_spaces_meet_on_pairs_of_syllables() -> None:
    """Chinese in traditional and simplified characters, and two Japanese reports of one
    event, share transliterated character pairs; a report of another event shares few."""
    from dedup.represent.lexical import profile

    def stems(text: str) -> set[str]:
        return set(profile(Article(id="x", title="", text=text)).stems)

    hant = stems("搭載俄羅斯與美國太空人的聯盟MS-22發射升空，並與國際太空站完成對接。")
    hans = stems("搭载俄罗斯与美国宇航员的联盟MS-22号飞船发射升空，并与国际空间站完成对接。")
    other = stems("台北市政府今天宣布，明年起將調漲公車票價，市民反應不一。")
    assert {"e-luo", "luo-si", "guo-ji", "dui-jie"} <= hant & hans
    assert len(hant & hans) >= 10 and len(hant & other) <= 2
    ja_1 = stems(
        "ロシアとアメリカの宇宙飛行士を乗せたソユーズが国際宇宙ステーションにドッキングした。"
    )
    ja_2 = stems("ソユーズが国際宇宙ステーションにドッキングし、宇宙飛行士が到着した。")
    ja_other = stems("東京都は新たに300人の感染を確認したと発表した。")
    assert len(ja_1 & ja_2) >= 15 and len(ja_1 & ja_other) <= 3


def test_word_frequencies_are_wordfreq_s() -> None:
    """dedup's compact lists give every word wordfreq's Zipf frequency (plain words without
    its tokenizer, the rest through it: capitals, accents, digits, apostrophes, other
    scripts, names of several words, unknown words), and its commonest words."""
    import re
    from itertools import chain
    from pathlib import Path

    from wordfreq import get_frequency_list, top_n_list, zipf_frequency

    from dedup.clean.frequency import _list, commonest, zipf

    samples = Path(__file__).resolve().parent.parent / "samples" / "articles"
    seen = {w for f in sorted(samples.glob("*.txt")) for w in re.findall(r"\S+", f.read_text())}
    words = [
        *sorted(seen)[:: max(1, len(seen) // 400)],
        "the", "said", "nvidia", "regierung", "hanoi", "xqzzv", "a", "istanbul", "ve",
        "jensen huang", "to lam", "the new york times", "xqzzv news", "de la", "Hanoi",
        "hà nội", "g7", "to  lam", " to", "l'arc", "e.g", "2024", "1,000", "covid-19", "Ü",
        "Bundesregierung", "Präsident", "Erdoğan", "İstanbul", "صحيفة", "Москва", "",
        "3.5%", "ｆｕｌｌ", "ﬁnance", "don't", "vs.", "x" * 40, "a1", "\u3161", "\ud800x",
    ]  # fmt: skip
    for lang in ("en", "de", "tr", "vi", "es", "pl", "ar", "sr", "no", "fr", "ru", "it"):
        for word in words:
            assert zipf(word, lang) == zipf_frequency(word, lang), (word, lang)
        assert commonest(lang, 150) == top_n_list(lang, 150), lang
        # No two words of a list share a hash ("a1" and "\u3161" did, hashed as str).
        assert len(_list(lang).hashes) == len(set(chain.from_iterable(get_frequency_list(lang))))
    assert not _list("ja").plain  # cut by a tokenizer of its own: never the short cut


def test_title_ngrams_are_the_char_wb_vectoriser_s() -> None:
    """The titles' character n-grams are cut per distinct word and hashed as counts: the same
    rows as scikit-learn's HashingVectorizer(analyzer="char_wb") gives, byte for byte."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer

    from dedup.represent.lexical import N_FEATURES, _char_counts

    titles = [
        "Tổng Bí thư Tô Lâm tiếp Chủ tịch NVIDIA",
        "a  bb ccc dddd eeeee ffffff",  # words shorter and longer than each n-gram
        "",
        "Wiener NEOS orten Schikanen für Gastro-Betriebe, Wiener NEOS",  # repeated words
        "北京 2024年12月6日 Москва\tترامب\u00a0x",
        "x",
    ]
    vectoriser = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        dtype=np.float32,
    )
    expected = sp.csr_matrix(vectoriser.transform([fold(t) for t in titles]), dtype=np.float32)
    expected.data = 1.0 + np.log(expected.data)
    got = _char_counts(titles)
    for field in ("data", "indices", "indptr"):
        assert getattr(got, field).dtype == getattr(expected, field).dtype
        assert getattr(got, field).tobytes() == getattr(expected, field).tobytes()


def test_stacked_counts_are_the_parts_one_under_another_and_the_parts_are_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """And the freed space is given back as the parts go: ``give_back`` is called each time
    the parts freed since the last call reach ``GIVE_BACK_BYTES``."""
    import dedup.represent.lexical as lexical

    rng = np.random.default_rng(0)

    def rows(n: int) -> sp.csr_matrix:
        return sp.random(n, 1 << 20, density=3e-5, format="csr", dtype=np.float32, random_state=rng)

    parts = [LexicalCounts(rows(r), rows(r), rows(r)) for r in (5, 0, 10, 30)]
    fields = ("entities", "stems", "title")
    want = [sp.vstack([getattr(p, f) for p in parts], format="csr") for f in fields]
    sizes = [
        sum(
            m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
            for m in (p.entities, p.stems, p.title)
        )
        for p in parts
    ]
    monkeypatch.setattr(lexical, "GIVE_BACK_BYTES", sizes[0] + sizes[1] + 1)
    calls: list[int] = []
    given = list(parts)
    got = LexicalCounts.stack(given, give_back=lambda: calls.append(len(given)))
    assert given == []
    # after the third part (the first two are a byte short), and after the last, its own size
    assert sizes[3] > sizes[0] + sizes[1] and calls == [1, 0]
    for f, expected in zip(fields, want, strict=True):
        stacked = getattr(got, f)
        assert stacked.shape == expected.shape and stacked.dtype == np.float32
        assert (stacked != expected).nnz == 0, f


def test_counts_stacked_in_an_order_are_the_rows_reordered() -> None:
    rng = np.random.default_rng(1)

    def rows(n: int) -> sp.csr_matrix:
        return sp.random(n, 1 << 20, density=2e-5, format="csr", dtype=np.float32, random_state=rng)

    parts = [LexicalCounts(rows(r), rows(r), rows(r)) for r in (7, 0, 12, 1, 20)]
    order = rng.permutation(40)
    fields = ("entities", "stems", "title")
    want = [sp.vstack([getattr(p, f) for p in parts], format="csr")[order] for f in fields]
    given = list(parts)
    got = LexicalCounts.stack(given, order.tolist())
    assert given == []
    for f, expected in zip(fields, want, strict=True):
        stacked = getattr(got, f)
        assert stacked.shape == expected.shape and stacked.dtype == np.float32
        for part in ("data", "indices", "indptr"):  # the same arrays, entries in row order
            assert np.array_equal(getattr(stacked, part), getattr(expected, part)), (f, part)
    one = [LexicalCounts(rows(3), rows(3), rows(3))]
    alone = sp.csr_matrix(one[0].title[[2, 0, 1]])
    assert (LexicalCounts.stack(one, [2, 0, 1]).title != alone).nnz == 0


def _weighed_whole(counts: sp.csr_matrix, drop_common: bool) -> sp.csr_matrix:
    """The weighing done on the whole matrix at once, with scipy's row sums: what
    ``_idf_normalise`` did before it took runs of rows."""
    from dedup.represent.lexical import COMMON_FRACTION

    matrix = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    n = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    if drop_common:
        idf[df > COMMON_FRACTION * n] = 0.0
    matrix.data *= idf[matrix.indices]
    matrix.eliminate_zeros()
    matrix.sort_indices()
    squares = sp.csr_matrix((matrix.data**2, matrix.indices, matrix.indptr), shape=matrix.shape)
    norms = np.sqrt(np.asarray(squares.sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix.data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(matrix.indptr))
    return matrix


@pytest.mark.parametrize("entries", [1, 7, 100, 1 << 22])
@pytest.mark.parametrize("drop_common", [False, True])
def test_weighing_a_run_of_rows_at_a_time_is_weighing_the_whole_to_the_bit(
    entries: int, drop_common: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of every length (empty ones, rows past a run's end, rows longer than a run), some
    entries zero, a term in most rows (weighs nothing with ``drop_common``), indices out of
    order within rows: each array the same, bit for bit, as the weighing of the whole."""
    import dedup.represent.lexical as lexical

    rng = np.random.default_rng(entries)
    lengths = rng.choice([0, 1, 3, 40, 300], size=60)
    rows = np.repeat(np.arange(60), lengths)
    cols = rng.integers(0, 5000, len(rows))
    cols[rng.random(len(rows)) < 0.2] = 17  # common
    counts = sp.csr_matrix(
        (1.0 + rng.random(len(rows), dtype=np.float32) * 3, (rows, cols)), shape=(60, 5000)
    )
    counts.data[rng.random(counts.nnz) < 0.05] = 0.0
    counts.has_sorted_indices = False
    for lo, hi in zip(counts.indptr[:-1], counts.indptr[1:], strict=True):
        perm = lo + rng.permutation(hi - lo)  # entries out of order within their rows
        counts.indices[lo:hi], counts.data[lo:hi] = counts.indices[perm], counts.data[perm]
    want = _weighed_whole(counts, drop_common)
    monkeypatch.setattr(lexical, "WEIGH_ENTRIES", entries)
    got = lexical._idf_normalise(counts.copy(), drop_common=drop_common)
    assert 0 < want.nnz < counts.nnz
    for part in ("data", "indices", "indptr"):
        assert getattr(got, part).dtype == getattr(want, part).dtype
        assert np.array_equal(getattr(got, part), getattr(want, part)), part
