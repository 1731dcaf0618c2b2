"""A run's pairs: the candidates the search finds, and the links they score, held in memory
or, for a big corpus, streamed through files.

In memory, the candidates' keys (``i * n + j``, ``i < j``) are gathered, made distinct and
scored at once, and the links are three arrays (:class:`Links`). On disk (a ``spill``
directory given to the search), each block of candidates is written out as it is found, into
files by the range of its pair's first article (:data:`PARTITION_ROWS` articles a range), and
the ranges are made distinct and scored one after another, their links appended to three
files (:class:`SpilledLinks`): the search never holds every candidate, nor the link stage
every link, and grouping reads the links back a chunk at a time. Both give the same links in
the same order (key order: the ranges follow one another), scored by the same
``Representations.pairs``.

The files are the operating system's to cache: pages it may drop, not the run's memory. They
live in a directory of their own under the spill directory (the pipeline's: ``$TMPDIR``),
removed when the links are let go of.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dedup.errors import ScratchError, os_reason
from dedup.progress import GIVE_BACK_BYTES, give_back_freed_memory
from dedup.represent.similarity import Representations

Array = np.ndarray
log = logging.getLogger(__name__)

# Scored this many candidate pairs at a time; distinct moves the keys to the front this many
# at a time; links read back from disk this many at a time.
SCORE_SLICE, COMPACT_RUN, CHUNK = 1 << 20, 1 << 20, 1 << 22
#: Candidates on disk are kept in files by their first article, this many articles a file.
PARTITION_ROWS = 1 << 15


@dataclass(frozen=True)
class Links:
    """Pairs ``i < j`` whose similarity reached the lower (related) threshold; ``i``, ``j``
    int32 below 2^31 articles (:func:`end_type`: at 10^6, half a GB less than int64)."""

    i: Array
    j: Array
    sim: Array

    @staticmethod
    def empty() -> Links:
        none = np.zeros(0, dtype=np.int32)
        return Links(none, none, np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.i)

    def chunks(self, size: int | None = None) -> Iterator[Links]:
        """The links ``size`` (:data:`CHUNK`) at a time, in order (views), as
        :class:`SpilledLinks` gives its."""
        size = size or CHUNK
        for at in range(0, len(self.i), size):
            yield Links(self.i[at : at + size], self.j[at : at + size], self.sim[at : at + size])


def end_type(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


_COLUMNS = ("i", "j", "sim")


class SpilledLinks:
    """Links in three files (both ends, the similarity), in key order, in a directory of their
    own, read back :data:`CHUNK` at a time; the directory is removed when they are let go of
    (or :meth:`close`)."""

    def __init__(self, under: str | Path, ends: type[np.signedinteger[Any]]) -> None:
        try:
            self.directory = Path(tempfile.mkdtemp(prefix="dedup-pairs-", dir=under))
        except OSError as exc:
            raise ScratchError(f"cannot make a directory for the pairs in {under}: "
                               f"{os_reason(exc)}; TMPDIR chooses where") from exc  # fmt: skip
        self._removed = weakref.finalize(self, shutil.rmtree, self.directory, True)
        self.types = {"i": np.dtype(ends), "j": np.dtype(ends), "sim": np.dtype(np.float32)}
        self.count = 0

    def path(self, name: str) -> Path:
        return self.directory / name

    def append(self, links: Links) -> None:
        """``links`` after those already written (the caller keeps the order)."""
        for name in _COLUMNS:
            write(self.path(name), np.asarray(getattr(links, name), dtype=self.types[name]))
        self.count += len(links)

    def __len__(self) -> int:
        return self.count

    def chunks(self, size: int | None = None) -> Iterator[Links]:
        """The links ``size`` (:data:`CHUNK`) at a time, in order, each chunk read when it is
        asked for."""
        size = size or CHUNK
        if not self.count:
            return
        try:
            files = [self.path(name).open("rb") for name in _COLUMNS]
        except OSError as exc:
            raise _unreadable(self.directory, exc) from exc
        with files[0], files[1], files[2]:
            for at in range(0, self.count, size):
                m = min(size, self.count - at)
                try:
                    columns = [np.fromfile(f, dtype=self.types[name], count=m)
                               for f, name in zip(files, _COLUMNS, strict=True)]  # fmt: skip
                except OSError as exc:
                    raise _unreadable(self.directory, exc) from exc
                if any(len(c) != m for c in columns):
                    raise ScratchError(f"the pairs kept in {self.directory} were cut short")
                yield Links(*columns)

    def close(self) -> None:
        """Remove the files now."""
        self._removed()


def write(path: Path, values: Array) -> None:
    """``values`` appended to ``path``, a full disk one error for the run."""
    try:
        with path.open("ab") as f:
            values.tofile(f)
    except OSError as exc:
        raise ScratchError(f"cannot keep the pairs in {path.parent}: {os_reason(exc)}; "
                           "TMPDIR chooses where") from exc  # fmt: skip


def _unreadable(directory: Path, exc: OSError) -> ScratchError:
    return ScratchError(f"cannot read the pairs kept in {directory}: {os_reason(exc)}")


class Candidates:
    """The candidate pairs' keys (``i * n + j``, ``i < j``) as the search finds them, a block
    at a time: in memory, or with ``spill``, in its directory, a file per
    :data:`PARTITION_ROWS` first articles. A pair may come from both its ends: it is made
    distinct and scored once, in :func:`scored`."""

    def __init__(self, n: int, spill: SpilledLinks | None) -> None:
        self.n, self.spill = n, spill
        self.parts: list[Array] = []
        self.span = n * PARTITION_ROWS  # the keys of one file
        self.files = max(1, -(-n // PARTITION_ROWS))

    def add(self, keys: list[Array]) -> None:
        """One block's keys (the list is emptied)."""
        if self.spill is None:
            self.parts += keys
            keys.clear()
            return
        block = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        keys.clear()
        file = (block // self.span).astype(np.uint16 if self.files <= 1 << 16 else np.int64)
        order = np.argsort(file, kind="stable")
        bounds = np.searchsorted(file[order], np.arange(self.files + 1))
        for f in np.flatnonzero(np.diff(bounds)):
            write(self._file(int(f)), block[order[bounds[f] : bounds[f + 1]]])

    def _file(self, f: int) -> Path:
        assert self.spill is not None
        return self.spill.path(f"keys-{f}")

    def ranges(self) -> Iterator[Array]:
        """The keys, in ranges of ascending keys (in memory, one range); each file read, then
        removed, as its range is asked for."""
        if self.spill is None:
            yield _joined(self.parts)
            return
        for f in range(self.files):
            path = self._file(f)
            if not path.exists():
                continue
            try:
                keys = np.fromfile(path, dtype=np.int64)
                path.unlink()
            except OSError as exc:
                raise _unreadable(path.parent, exc) from exc
            yield keys


def scored(
    reps: Representations, candidates: Candidates, floor: float, among: Array | None
) -> Links | SpilledLinks:
    """The candidate pairs that score at least ``floor``, in key order, numbered as in
    ``reps`` (``among``: the candidates are numbered as its articles): :class:`Links`, or
    with a spill, the :class:`SpilledLinks` they were appended to, a range at a time."""
    n, spill = candidates.n, candidates.spill
    if among is not None:  # once, not once a range: the links' ends are numbered by it
        among = among.astype(end_type(reps.n))
    if spill is None:
        return _scored_range(reps, next(candidates.ranges()), n, floor, among)
    found, largest = 0, 0
    for keys in candidates.ranges():
        found, largest = found + len(keys), max(largest, len(keys))
        spill.append(_scored_range(reps, keys, n, floor, among))
        del keys
        give_back_freed_memory()
    log.info("%d candidate keys through %s, %d in the largest range: %d links",
             found, spill.directory, largest, len(spill))  # fmt: skip
    return spill


def _scored_range(
    reps: Representations, key: Array, n: int, floor: float, among: Array | None
) -> Links:
    """The candidate pairs ``key`` (emptied) that score at least ``floor``, in key order
    (``among`` as :func:`scored` gives it, in the links' end type). A pair may come from both
    ends: it is scored once. Scored a slice at a time, the pairs kept are moved to the front
    of the keys and their scores to the front of one array: at 10^6 articles the candidates'
    ends and scores, all at once, held gigabytes the links do not need."""
    key = distinct(key, in_place=True)
    sims = np.empty(len(key), dtype=np.float32)
    kept, part = 0, key[:0]
    for start in range(0, len(key), SCORE_SLICE):
        part = key[start : start + SCORE_SLICE]
        i, j = np.divmod(part, n)
        if among is not None:
            i, j = among[i], among[j]
        scored = reps.pairs(i, j)
        keep = scored >= floor
        m = int(np.count_nonzero(keep))
        key[kept : kept + m] = part[keep]  # a copy first: it may overlap the slice read
        sims[kept : kept + m] = scored[keep]
        kept += m
    del part
    # The ends one at a time, the second in the keys' place: at 10^6 both ends of the links,
    # and both again numbered as in ``reps``, were 2 GB at once beside the keys.
    ends = key[:kept]
    i = np.empty(kept, dtype=end_type(n))
    np.floor_divide(ends, n, out=i, casting="unsafe")  # below n: the type holds it
    if among is not None:
        i = among[i]
    np.remainder(ends, n, out=ends)
    j = ends.astype(i.dtype) if among is None else among[ends]
    del key, ends
    return Links(i, j, sims[:kept].copy())


def distinct(values: Array, *, in_place: bool = False) -> Array:
    """The distinct values of an integer array, sorted: what ``np.unique`` gives, found by
    sorting. numpy 2.3 on finds them with a hash table, which at millions of mostly distinct
    keys (pairs, label pairs) takes about a microsecond a key once it outgrows the caches:
    140 M pair keys in 287 s, sorted in 11 (docs/benchmarks.md). ``in_place``: ``values``
    is sorted where it lies and the distinct ones moved to its front, :data:`COMPACT_RUN` at a
    time (its caller has no further use for it): the result is a view of that front."""
    values = np.asarray(values)
    ordered = values if in_place else values.copy()
    ordered.sort()
    if len(ordered) < 2:
        return ordered
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    if not in_place:
        return ordered[first]
    at = 0  # each run's distinct keys moved down, none read after it is written over
    for lo in range(0, len(ordered), COMPACT_RUN):
        kept = ordered[lo : lo + COMPACT_RUN][first[lo : lo + COMPACT_RUN]]
        ordered[at : at + len(kept)], at = kept, at + len(kept)
    return ordered[:at]


def _joined(parts: list[Array]) -> Array:
    """``np.concatenate(parts)``, emptying ``parts`` as each is copied and giving the heap's
    freed pages back every :data:`GIVE_BACK_BYTES`: the keys come cell by cell, small arrays
    in the heap, whose space glibc held freed beside their copy (docs/benchmarks.md, tenth
    round: with :func:`distinct` in place and int32 ends, linking's peak 1,458 MiB lower)."""
    key, at, freed = np.empty(sum(len(p) for p in parts), dtype=np.int64), 0, 0
    for k, part in enumerate(parts):
        key[at : at + len(part)], parts[k] = part, key[:0]  # copied, let go
        at, freed = at + len(part), freed + part.nbytes
        if freed >= GIVE_BACK_BYTES:
            give_back_freed_memory()
            freed = 0
    parts.clear()
    give_back_freed_memory()
    return key


#: The links a search gives, in memory or on disk: both read by ``chunks()``.
AnyLinks = Links | SpilledLinks
