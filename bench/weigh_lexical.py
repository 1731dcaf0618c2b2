"""Weighing a corpus' lexical counts (`lexical._idf_normalise`: IDF, rows normalised), by one
or more checkouts, each in a fresh process, side by side.

    .venv/bin/python bench/weigh_lexical.py --rows 1000000 --per-row 270 \
        [--checkout DIR ...]

The counts are made up, the same in every process (a seed): ``--rows`` rows of about
``--per-row`` entries each over 2^20 hashed columns: four in five drawn evenly (rare
n-grams), one in five from a few hundred columns by a Zipf law (common ones, a few in most
rows); the values ``1 + log(count)``, as the title n-grams' are. 270 entries a row are the
title n-grams of the bench corpus (2.7 x 10^7 entries at 10^5 articles); ``drop_common`` is
on, as for the names. Reported: wall and CPU seconds, the peak RSS over the counts
(``peak_mib_over_loaded``: ``VmHWM``, reset through ``/proc/self/clear_refs`` before the
call, read as it returns), and whether every checkout weighed the same rows, bit for bit, as
the first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkouts import ROOT, digest_of, each_checkout, measured

COLUMNS = 1 << 20


def counts(rows: int, per_row: int):  # type: ignore[no-untyped-def]
    """The made-up counts: CSR, float32 values, int32 indices, each row's columns distinct."""
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(24)
    lengths = rng.poisson(per_row, rows)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    total = int(indptr[-1])
    cols = rng.integers(0, COLUMNS, total)  # most n-grams: rare
    common = rng.random(total) < 0.2  # a fifth: from a few hundred common ones, by a Zipf law
    cols[common] = (rng.zipf(1.3, int(common.sum())) - 1) % 997
    data = (1.0 + np.log(rng.geometric(0.7, len(cols)))).astype(np.float32)
    index = np.int32 if len(cols) < 2**31 else np.int64
    matrix = sp.csr_matrix(
        (data, cols.astype(index), indptr.astype(index)), shape=(rows, COLUMNS), copy=False
    )
    matrix.sum_duplicates()  # a row's column once, as the hasher gives it
    return matrix


def one(args: argparse.Namespace) -> None:
    """In a fresh process: the weighing timed; its figures written to ``args.one``."""

    from dedup.represent.lexical import _idf_normalise

    _idf_normalise(counts(50, 5), drop_common=True)  # imports and first calls out of the figure
    matrix = counts(args.rows, args.per_row)
    weighed, figures = measured(lambda: _idf_normalise(matrix, drop_common=True))
    arrays = (weighed.data, weighed.indices, weighed.indptr)
    figures |= {"entries": int(weighed.nnz), "digest": digest_of(arrays)}
    Path(args.one).write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-row", type=int, default=270)
    parser.add_argument("--checkout", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    sizes = ["--rows", str(args.rows), "--per-row", str(args.per_row)]
    runs = each_checkout(__file__, sizes, args.checkout or [ROOT], "same_rows_as_first")
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
