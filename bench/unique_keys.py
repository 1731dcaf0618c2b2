"""The distinct values of many int64 keys (pair keys, as linking makes them): numpy's
``np.unique`` against dedup's ``link.distinct`` (a sort, then a mask), side by side on the same
keys in one process, each the least of ``--repeat`` runs, and whether the two agree.

numpy 2.3 on finds the distinct values of an integer array with a hash table when no index,
inverse or count is asked for; this shows what that costs at the sizes a big run reaches.

    .venv/bin/python bench/unique_keys.py [--sizes 100000 1000000 6000000 20000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from dedup.link import distinct


def least(find: Callable[[np.ndarray], np.ndarray], keys: np.ndarray, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        find(keys)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10**5, 10**6, 6 * 10**6, 2 * 10**7]
    )
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        # Pair keys i * n + j of about sqrt(size) * 30 articles: mostly distinct, some twice
        # (a pair found from both of its ends).
        n = int(np.sqrt(size)) * 30
        half = rng.integers(0, n * n, size // 2)
        keys = np.concatenate(
            [half, half[: size // 4], rng.integers(0, n * n, size - size // 2 - size // 4)]
        )
        rng.shuffle(keys)
        numpy_s = least(np.unique, keys, args.repeat)
        sorted_s = least(distinct, keys, args.repeat)
        rows.append(
            {
                "keys": size,
                "np_unique_s": round(numpy_s, 3),
                "distinct_s": round(sorted_s, 3),
                "ratio": round(numpy_s / sorted_s, 1),
                "same": bool(np.array_equal(np.unique(keys), distinct(keys))),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"numpy": np.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
