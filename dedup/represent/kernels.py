"""Compiled inner loops (numba) for the work no library call does in one pass.

``rowwise_dot``: the dot products of the row pairs ``(i[k], j[k])`` of one CSR matrix, each
pair's two sorted index lists walked together, nothing gathered. scipy's way (gather both
rows of every pair, multiply elementwise, sum each row) copies every pair's rows twice and
was 90% of scoring a pair with the hybrid backend. Products in float32, summed in float64 in
index order: within one float32 rounding (2.4e-7) of scipy's sums, which are taken in another
order.

``cross_dot``: the same dot products for every pair of blocks of rows (a story's articles by
another's, as related stories are measured), each left row's sparse entries laid out once in
a dense scratch row and each right row's looked up in it, nothing gathered: the sums, in the
same order, are ``rowwise_dot``'s to the bit. ``rowwise_dense``: dense rows' dot products,
pair by pair, nothing gathered.

The pair kernels run in one thread per usable core when there is enough work (at least
``THREAD_MIN`` pairs a thread), each thread on its own contiguous share of the pairs (of the
blocks, for ``cross_dot``): the compiled loops let go of the GIL, and each pair's sum is taken
as one thread would take it, so the results are the same to the bit.

``word_ids``: a static model's texts as token ids, each text's words' ids (kept once per
distinct word) laid end to end, cut at the tokenizer's limit.

``bag_means``: a static model's text vectors, each the mean of its tokens' rows of the table,
summed in float32 in token order as torch's ``EmbeddingBag`` sums them, without gathering
every token's row first; a float16 table (as model2vec writes one) is read as it is, each
entry widened exactly by LLVM's own conversion, not copied into a float32 table twice its size.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from dedup.cores import usable_cores

Array = np.ndarray

# Pairs a thread must have to be worth starting (a thread costs about 0.1 ms; 2^14 pairs of
# sparse rows take a few milliseconds).
THREAD_MIN = 1 << 14


def _threads(pairs: int) -> int:
    return max(1, min(usable_cores(), pairs // THREAD_MIN))


def _in_threads(run: Callable[[int, int], None], edges: Array) -> None:
    """``run(a, b)`` for each part ``[a, b)`` between consecutive ``edges``, each part in its
    own thread when there are several (joined before returning; an error in one is raised)."""
    spans = list(pairwise(edges.tolist()))
    if len(spans) <= 1:
        for span in spans:
            run(*span)
        return
    with ThreadPoolExecutor(len(spans), thread_name_prefix="dedup-kernel") as pool:
        for _ in pool.map(lambda span: run(*span), spans):
            pass


def _over_pairs(
    kernel: Callable[..., None], head: tuple[Array, ...], i: Array, j: Array, out: Array
) -> None:
    """``kernel(*head, i[a:b], j[a:b], out[a:b])`` for each thread's share ``[a, b)`` of the
    pairs ``(i, j)``."""
    edges = np.linspace(0, len(i), _threads(len(i)) + 1).astype(np.int64)
    _in_threads(lambda a, b: kernel(*head, i[a:b], j[a:b], out[a:b]), edges)


@njit(cache=True, nogil=True)
def _rowwise_dot(
    indptr: Array, indices: Array, data: Array, i: Array, j: Array, out: Array
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    for k in range(len(i)):
        a, a_end = indptr[i[k]], indptr[i[k] + 1]
        b, b_end = indptr[j[k]], indptr[j[k] + 1]
        total = 0.0  # float64, as scipy sums float32 rows
        while a < a_end and b < b_end:
            column_a, column_b = indices[a], indices[b]
            if column_a == column_b:
                total += np.float64(data[a] * data[b])  # the product in float32
                a += 1
                b += 1
            elif column_a < column_b:
                a += 1
            else:
                b += 1
        out[k] = total


def rowwise_dot(m: sp.csr_matrix, i: Array, j: Array) -> Array:
    """``m[i[k]] . m[j[k]]`` for every ``k``, as float32."""
    out = np.zeros(len(i), dtype=np.float64)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    _over_pairs(_rowwise_dot, _csr(m), i, j, out)
    return out.astype(np.float32)


def _csr(m: sp.csr_matrix) -> tuple[Array, Array, Array]:
    """``m``'s index pointers, column indices (sorted in place) and values as float32."""
    if not m.has_sorted_indices:
        m.sort_indices()  # in place: the same matrix, its columns in order
    data = m.data if m.data.dtype == np.float32 else m.data.astype(np.float32)
    return m.indptr, m.indices, data


def _block_total(left_at: Array, right_at: Array) -> int:
    return int((np.diff(left_at) * np.diff(right_at)).sum())


@njit(cache=True, nogil=True)
def _block_pairs(
    left: Array, left_at: Array, right: Array, right_at: Array, i: Array, j: Array
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    n = 0
    for k in range(len(left_at) - 1):
        for p in range(left_at[k], left_at[k + 1]):
            for q in range(right_at[k], right_at[k + 1]):
                i[n] = left[p]
                j[n] = right[q]
                n += 1


def block_pairs(left: Array, left_at: Array, right: Array, right_at: Array) -> tuple[Array, Array]:
    """The pairs of every block ``k``: ``left[left_at[k]:left_at[k + 1]]`` by
    ``right[right_at[k]:right_at[k + 1]]``, block after block, row by row."""
    n = _block_total(left_at, right_at)
    i, j = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    _block_pairs(left, left_at, right, right_at, i, j)
    return i, j


@njit(cache=True, nogil=True)
def _cross_dot(
    indptr: Array,
    indices: Array,
    data: Array,
    left: Array,
    left_at: Array,
    right: Array,
    right_at: Array,
    scratch: Array,
    out: Array,
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    n = 0
    for k in range(len(left_at) - 1):
        for p in range(left_at[k], left_at[k + 1]):
            a = left[p]
            for e in range(indptr[a], indptr[a + 1]):
                scratch[indices[e]] = data[e]
            for q in range(right_at[k], right_at[k + 1]):
                b = right[q]
                total = 0.0  # float64, in index order, as _rowwise_dot sums
                for e in range(indptr[b], indptr[b + 1]):
                    value = scratch[indices[e]]
                    if value != 0.0:
                        total += np.float64(value * data[e])
                out[n] = total
                n += 1
            for e in range(indptr[a], indptr[a + 1]):
                scratch[indices[e]] = 0.0


def cross_dot(
    m: sp.csr_matrix, left: Array, left_at: Array, right: Array, right_at: Array
) -> Array:
    """``m[i] . m[j]`` for every pair ``(i, j)`` of :func:`block_pairs`, as float32."""
    done = np.cumsum(np.diff(left_at) * np.diff(right_at))  # pairs of blocks 0..k
    total = int(done[-1]) if len(done) else 0
    out = np.zeros(total, dtype=np.float64)
    indptr, indices, data = _csr(m)
    parts = _threads(total)
    # blocks cut where the pairs before them reach each thread's share
    cuts = np.searchsorted(done, np.arange(1, parts) * (total / parts), side="right")
    edges = np.unique(np.concatenate([[0], cuts, [len(done)]])).astype(np.int64)

    def run(a: int, b: int) -> None:
        scratch = np.zeros(m.shape[1], dtype=np.float32)  # a thread's own
        start, stop = (int(done[a - 1]) if a else 0), (int(done[b - 1]) if b else 0)
        blocks = (left, left_at[a : b + 1], right, right_at[a : b + 1])
        _cross_dot(indptr, indices, data, *blocks, scratch, out[start:stop])

    _in_threads(run, edges)
    return out.astype(np.float32)


@njit(cache=True, nogil=True)
def _rowwise_dense(
    m: Array, i: Array, j: Array, out: Array
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    for k in range(len(i)):
        out[k] = np.dot(m[i[k]], m[j[k]])


def rowwise_dense(m: Array, i: Array, j: Array) -> Array:
    """``m[i[k]] . m[j[k]]`` for every ``k`` of a dense ``m``, no row gathered (BLAS's dot)."""
    m = np.ascontiguousarray(m)
    out = np.zeros(len(i), dtype=m.dtype)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    _over_pairs(_rowwise_dense, (m,), i, j, out)
    return out


@njit(cache=True, nogil=True)
def _word_ids(
    pool: Array,
    starts: Array,
    lengths: Array,
    words: Array,
    bounds: Array,
    limit: int,
    ids: Array,
    offsets: Array,
    refused: Array,
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    n = 0
    for r in range(len(bounds) - 1):
        first, end = n, n + limit
        for w in range(bounds[r], bounds[r + 1]):
            word = words[w]
            if lengths[word] < 0:  # a word the text cannot be cut at: no ids for it
                refused[r] = True
                n = first
                break
            start = starts[word]
            for p in range(start, start + min(lengths[word], end - n)):
                ids[n] = pool[p]
                n += 1
        offsets[r + 1] = n


def word_ids(
    pool: Array, starts: Array, lengths: Array, words: Array, bounds: Array, limit: int
) -> tuple[Array, Array, Array]:
    """Text ``r``'s token ids: those of its words ``words[bounds[r]:bounds[r + 1]]`` end to end
    (word ``w``'s are ``pool[starts[w]:starts[w] + lengths[w]]``), the first ``limit`` of them.
    Returns every text's ids in one array, each text's offsets into it, and whether each text
    was refused: it holds a word of length -1, and has no ids."""
    words = np.asarray(words, dtype=np.int64)
    bounds = np.asarray(bounds, dtype=np.int64)
    ids = np.empty(int(np.maximum(lengths[words], 0).sum()) if len(words) else 0, dtype=np.int64)
    offsets = np.zeros(len(bounds), dtype=np.int64)
    refused = np.zeros(len(bounds) - 1, dtype=np.bool_)
    _word_ids(pool, starts, lengths, words, bounds, limit, ids, offsets, refused)
    return ids[: offsets[-1]], offsets, refused


@intrinsic
def _half_value(typingctx: Any, bits: Any) -> Any:  # pragma: no cover - compiled
    """A float16's bit pattern (uint16) as the float32 it stands for, exactly: LLVM's own
    widening, which the loop below runs on vectors (F16C where the CPU has it)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


def _entry(table: Array, row: int, d: int) -> float:  # pragma: no cover
    """``table[row, d]`` as float32: widened, for a table of float16 bit patterns."""
    raise NotImplementedError  # compiled only, by the overload below


@overload(_entry)
def _entry_typed(table: Any, row: Any, d: Any) -> Any:  # pragma: no cover
    # (numba asks the implementations for the same parameters, annotations included)
    def widened(table: Any, row: Any, d: Any) -> Any:
        return _half_value(table[row, d])  # type: ignore[call-arg]  # numba adds the context

    def read(table: Any, row: Any, d: Any) -> Any:
        return table[row, d]

    return widened if isinstance(table.dtype, types.Integer) else read


@njit(cache=True, nogil=True)
def _bag_means(
    table: Array, ids: Array, offsets: Array, out: Array
) -> None:  # pragma: no cover - compiled; its wrapper is tested
    dim = table.shape[1]
    total = np.zeros(dim, dtype=np.float32)
    for r in range(len(offsets) - 1):
        start, end = offsets[r], offsets[r + 1]
        if end == start:
            continue  # no tokens: the row stays 0, as an empty bag's mean
        total[:] = 0.0
        for k in range(start, end):
            row = ids[k]
            for d in range(dim):
                total[d] += _entry(table, row, d)
        count = np.float32(end - start)
        for d in range(dim):
            out[r, d] = total[d] / count


def bag_means(table: Array, ids: Array, offsets: Array, out: Array) -> None:
    """``out[r]`` = the mean of ``table[ids[offsets[r]:offsets[r + 1]]]`` (0 for none), summed
    in float32 in token order; a float16 table's entries are widened exactly as they are read,
    so it gives the same means, to the bit, as the table widened to float32 (and sooner: half
    the memory to read)."""
    half = table.dtype == np.float16
    _bag_means(
        np.ascontiguousarray(table).view(np.uint16)
        if half
        else np.ascontiguousarray(table, dtype=np.float32),
        np.asarray(ids, dtype=np.int64),
        np.asarray(offsets, dtype=np.int64),
        out,
    )
