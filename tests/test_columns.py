"""Articles held as columns (dedup.columns): every field back as it went in, in any order,
across processes, and read without making the articles."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest

from dedup.clean.dating import vet_corpus
from dedup.columns import ArticleColumns, Block, dates_of, ordinals_of, strings_of
from dedup.models import Article
from dedup.prepare import Kept, _Cleaned, future_dates_note

D = dt.date


def _articles() -> list[Article]:
    return [
        Article(id="a", title="Título", text="Texte « cité » — fin", source="x.example"),
        Article(
            id="b",
            title="",
            text="Half an emoji: \ud83d, whole: \U0001f600, Greek: Αθήνα",
            url="https://b.example/1",
            lang="el",
            published=D(2024, 12, 6),
            origin="in.jsonl:2",
            meta={"section": "world"},
            inferred=D(2024, 12, 5),
            inferred_from="dateline",
        ),
        Article(
            id="c",
            title="Only a title",
            text="",
            lang="en",
            inferred=D(2001, 9, 11),
            inferred_from="text",
        ),
        Article(id="", title="", text="\x00 nul and\nlines\r\n", source="", url=""),
    ]


def test_every_field_comes_back_as_it_went_in_whole_sliced_taken_and_joined() -> None:
    given = _articles()
    columns = ArticleColumns.of(given)
    assert len(columns) == 4
    assert list(columns) == given
    assert columns == given and given == columns  # compared as sequences, either side
    assert [columns[k] for k in range(-4, 4)] == given + given
    assert list(columns[1:3]) == given[1:3]
    assert list(columns.take([3, 0, 0])) == [given[3], given[0], given[0]]
    with pytest.raises(IndexError):
        columns[4]
    with pytest.raises(IndexError):
        columns[-5]
    two = ArticleColumns.concat([ArticleColumns.of(given[:1]), ArticleColumns.of(given[1:])])
    assert list(two.take([3, 2, 1, 0])) == given[::-1]
    assert list(ArticleColumns.of([])) == []
    assert columns[1].meta == {"section": "world"} and columns[0].meta == {}


def test_a_block_crosses_processes_as_buffers_and_comes_back_the_same() -> None:
    block = Block.of(_articles())
    back = pickle.loads(pickle.dumps(block, protocol=5))
    assert [back.article(k) for k in range(len(back))] == _articles()
    # the text lies once, as UTF-8, in the block's buffer: no article object is pickled
    assert b"Article" not in pickle.dumps(block, protocol=5)


def test_fields_are_read_from_the_columns_as_from_the_articles() -> None:
    given = _articles()
    for articles in (given, ArticleColumns.of(given).take([0, 1, 2, 3])):
        assert strings_of(articles, "lang") == [None, "el", "en", None]
        assert strings_of(articles, "text") == [a.text for a in given]
        assert ordinals_of(articles, "published").tolist() == [0, D(2024, 12, 6).toordinal(), 0, 0]
        for text_dates in (False, True):
            want = [a.date(text_dates=text_dates) for a in given]
            got = dates_of(articles, text_dates=text_dates).tolist()
            assert got == [0 if d is None else d.toordinal() for d in want]


def test_a_corpus_vetted_as_columns_is_the_corpus_vetted_as_a_list() -> None:
    dated = [
        Article(id=f"p{k}", title="t", text="x", published=D(2024, 12, 1) + dt.timedelta(k))
        for k in range(12)
    ]
    stray = Article(id="s", title="t", text="x", inferred=D(1999, 1, 1), inferred_from="text")
    near = Article(id="n", title="t", text="x", inferred=D(2024, 12, 3), inferred_from="text")
    given = [*dated, stray, near]
    as_list = vet_corpus(given)
    as_columns = vet_corpus(ArticleColumns.of(given))
    assert isinstance(as_columns, ArticleColumns)
    assert list(as_columns) == as_list
    assert as_list[-2].inferred is None and as_list[-1].inferred == D(2024, 12, 3)


def test_kept_parts_joined_in_an_order_keep_each_articles_place_day_and_dropped_date() -> None:
    given = _articles()
    parts = [
        Kept.of([_Cleaned(0, given[0], 45), _Cleaned(1, given[1], None, D(2099, 1, 1))]),
        Kept.of([_Cleaned(2, given[2], None), _Cleaned(3, given[3], 366)]),
    ]
    joined = Kept.joined(parts, [3, 1, 0, 2])
    assert list(joined) == [
        _Cleaned(3, given[3], 366),
        _Cleaned(1, given[1], None, D(2099, 1, 1)),
        _Cleaned(0, given[0], 45),
        _Cleaned(2, given[2], None),
    ]
    assert joined.stated_days == [366, None, 45, None]
    assert joined.places.dtype == np.int64
    assert future_dates_note(joined) == [
        "1 article(s) dated after today, which is no publication date: left undated"
        " (first: b, 2099-01-01)"
    ]
    assert future_dates_note(parts[1]) == []
