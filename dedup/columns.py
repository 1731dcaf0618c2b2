"""Articles held as columns: a corpus of a million articles as a few dozen buffers, not a
million objects (issue 24).

An :class:`~dedup.models.Article` as an object costs its text again in Python's own string
layout (two or four bytes a character as soon as one character needs it: a curly quote is
enough) and about 850 bytes of small objects around it: 2.7 KB an article of the bench
corpus, against 1.5 KB as UTF-8. And a forked worker that reads objects writes their
reference counts, so the pages they lie on are copied into it.

:class:`ArticleColumns` is a ``Sequence[Article]``: each field a column, the strings as UTF-8
in one buffer per block (``surrogatepass``: a lone surrogate comes back as it went in), the
dates as day numbers; an article is made when it is asked for, and let go by the caller.
Blocks are made where articles are made (a worker of the per-article pass makes one for its
part, and sends that back rather than a thousand objects), and a corpus is its blocks in any
order: putting it in canonical order moves two small index arrays, never a text.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import cast, overload

import numpy as np

from dedup.models import Article, DateSource

#: The string fields of an article, in the order of :class:`~dedup.models.Article`'s.
STRINGS = ("id", "title", "text", "source", "url", "lang", "origin", "inferred_from")
_NO_DAY = 0  # a date's ordinal is at least 1


def _ordinal(date: dt.date | None) -> int:
    return _NO_DAY if date is None else date.toordinal()


def _date(ordinal: int) -> dt.date | None:
    return None if ordinal == _NO_DAY else dt.date.fromordinal(ordinal)


@dataclass(frozen=True, slots=True)
class _Strings:
    """One string field of a block's articles: UTF-8 one after another, where each ends, and
    which are None. (Python's own arrays: an element read is a Python int at once, and
    reading one article is a few of them.)"""

    data: bytes
    ends: array[int]  # of int64, one per article: value k is data[ends[k - 1]:ends[k]]
    none: frozenset[int]  # the articles whose value is None

    @staticmethod
    def of(values: Sequence[str | None]) -> _Strings:
        encoded = [(v or "").encode("utf-8", "surrogatepass") for v in values]
        ends = array("q", accumulate(map(len, encoded)))
        return _Strings(
            b"".join(encoded), ends, frozenset(k for k, v in enumerate(values) if v is None)
        )

    def __getitem__(self, k: int) -> str | None:
        if k in self.none:
            return None
        ends = self.ends
        return self.data[ends[k - 1] if k else 0 : ends[k]].decode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Block:
    """Some articles as columns, in the order they were given."""

    strings: Mapping[str, _Strings]  # by field, in STRINGS' order
    published: array[int]  # of int32 ordinals, 0 for None
    inferred: array[int]
    meta: Mapping[int, Mapping[str, str]]  # only the articles that have any

    @staticmethod
    def of(articles: Sequence[Article]) -> Block:
        return Block(
            strings={f: _Strings.of([getattr(a, f) for a in articles]) for f in STRINGS},
            published=array("i", [_ordinal(a.published) for a in articles]),
            inferred=array("i", [_ordinal(a.inferred) for a in articles]),
            meta={k: dict(a.meta) for k, a in enumerate(articles) if a.meta},
        )

    def __len__(self) -> int:
        return len(self.published)

    def article(self, k: int) -> Article:
        id_, title, text, source, url, lang, origin, inferred_from = (
            column[k] for column in self.strings.values()
        )
        return Article(
            id=cast(str, id_),
            title=cast(str, title),
            text=cast(str, text),
            source=cast(str, source),
            url=url,
            lang=lang,
            published=_date(self.published[k]),
            origin=cast(str, origin),
            meta=self.meta.get(k, {}),
            inferred=_date(self.inferred[k]),
            inferred_from=cast("DateSource | None", inferred_from),
        )

    def ordinals(self, field: str) -> np.ndarray:
        return np.frombuffer(getattr(self, field), dtype=np.int32)


class ArticleColumns(Sequence[Article]):
    """A corpus of articles as :class:`Block`\\ s: row ``r`` is article ``index[r]`` of block
    ``block[r]``. Rows are made into :class:`~dedup.models.Article`\\ s as they are asked for;
    a slice or :meth:`take` is new index arrays over the same blocks."""

    __slots__ = ("_block", "_blocks", "_index")

    def __init__(self, blocks: Sequence[Block], block: np.ndarray, index: np.ndarray) -> None:
        self._blocks = tuple(blocks)
        self._block = block
        self._index = index

    @staticmethod
    def of(articles: Sequence[Article]) -> ArticleColumns:
        """``articles`` as one block."""
        n = len(articles)
        return ArticleColumns(
            [Block.of(articles)], np.zeros(n, np.int32), np.arange(n, dtype=np.int32)
        )

    @staticmethod
    def concat(parts: Sequence[ArticleColumns]) -> ArticleColumns:
        """The parts' rows one after another, over all their blocks."""
        starts = np.cumsum([0, *(len(p._blocks) for p in parts)])
        return ArticleColumns(
            [b for p in parts for b in p._blocks],
            np.concatenate(
                [
                    np.zeros(0, np.int32),
                    *(p._block + s for p, s in zip(parts, starts, strict=False)),
                ]
            ).astype(np.int32),
            np.concatenate([np.zeros(0, np.int32), *(p._index for p in parts)]),
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> ArticleColumns:
        """Rows ``rows`` of these, in that order."""
        at = np.asarray(rows, dtype=np.int64)
        return ArticleColumns(self._blocks, self._block[at], self._index[at])

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, k: int) -> Article: ...
    @overload
    def __getitem__(self, k: slice) -> ArticleColumns: ...
    def __getitem__(self, k: int | slice) -> Article | ArticleColumns:
        if isinstance(k, slice):
            return ArticleColumns(self._blocks, self._block[k], self._index[k])
        if not -len(self) <= k < len(self):
            raise IndexError(f"article {k} of {len(self)}")
        return self._blocks[int(self._block[k])].article(int(self._index[k]))

    def __iter__(self) -> Iterator[Article]:
        blocks = self._blocks
        for b, k in zip(self._block.tolist(), self._index.tolist(), strict=True):
            yield blocks[b].article(k)

    def values(self, field: str) -> list[str | None]:
        """One string field of every row, no article made."""
        blocks = [b.strings[field] for b in self._blocks]
        return [
            blocks[b][k] for b, k in zip(self._block.tolist(), self._index.tolist(), strict=True)
        ]

    def without_inferred(self, rows: Sequence[int]) -> ArticleColumns:
        """These articles with the dates inferred from the texts of ``rows`` dropped (see
        :func:`dedup.clean.dating.vet_corpus`): each block touched is copied with its dates
        changed; the strings are shared."""
        if not len(rows):
            return self
        blocks = list(self._blocks)
        at = np.asarray(rows, dtype=np.int64)
        for b in np.unique(self._block[at]).tolist():
            mine = self._index[at[self._block[at] == b]]
            old = blocks[b]
            dropped = set(mine.tolist())
            inferred = array(
                "i", (_NO_DAY if k in dropped else d for k, d in enumerate(old.inferred))
            )
            sources = old.strings["inferred_from"]
            made = [None if k in dropped else sources[k] for k in range(len(old))]
            strings = {**old.strings, "inferred_from": _Strings.of(made)}
            blocks[b] = Block(strings, old.published, inferred, old.meta)
        return ArticleColumns(blocks, self._block, self._index)

    def ordinals(self, field: str) -> np.ndarray:
        """A date field of every row as day ordinals (int32), 0 where there is none."""
        whole = np.concatenate([np.zeros(0, np.int32), *(b.ordinals(field) for b in self._blocks)])
        starts = np.cumsum([0, *(len(b) for b in self._blocks)])[:-1]
        return cast(np.ndarray, whole[starts[self._block] + self._index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArticleColumns({len(self)} articles in {len(self._blocks)} blocks)"


def strings_of(articles: Sequence[Article], field: str) -> list[str | None]:
    """One string field of every article: read from the columns, no article made, where
    ``articles`` are :class:`ArticleColumns`."""
    if isinstance(articles, ArticleColumns):
        return articles.values(field)
    return [getattr(a, field) for a in articles]


def ordinals_of(articles: Sequence[Article], field: str) -> np.ndarray:
    """A date field (``published``, ``inferred``) of every article as day ordinals (int32), 0
    where there is none; from the columns where ``articles`` are :class:`ArticleColumns`."""
    if isinstance(articles, ArticleColumns):
        return articles.ordinals(field)
    return np.array([_ordinal(getattr(a, field)) for a in articles], dtype=np.int32)


def dates_of(articles: Sequence[Article], *, text_dates: bool = False) -> np.ndarray:
    """Each article's :meth:`~dedup.models.Article.date` as a day ordinal, 0 where it has none:
    the published date, or with ``text_dates`` the inferred one where none is published."""
    published = ordinals_of(articles, "published")
    if not text_dates:
        return published
    return np.where(published > 0, published, ordinals_of(articles, "inferred"))


def rows_of(articles: Sequence[Article], rows: Sequence[int]) -> Sequence[Article]:
    """Rows ``rows`` of ``articles``: of columns, a view of them (no article made until it is
    read, by whoever reads it: a forked worker embedding its slice)."""
    if isinstance(articles, ArticleColumns):
        return articles.take(rows)
    return [articles[r] for r in rows]
