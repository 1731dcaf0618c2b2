"""The per-article stages as `dedup cluster` runs them (`prepare.clean_stage`: the pool of
workers, the canonical order, the lexical vectors weighed over the corpus), by one or more
checkouts on the same corpus, each in a fresh process, one after the other, side by side.

    .venv/bin/python bench/prepare_stage.py CORPUS [--checkout DIR ...] [--backend hybrid]

For each checkout (``PYTHONPATH=DIR``; this one when none is named): the wall seconds of
``clean_stage`` and its stages' own, the CPU seconds of the process and of its workers, and
one digest over everything it gives: every cleaned article with its place and event day, the
skips, and the lexical vectors' arrays byte for byte. Two checkouts with the same digest gave
the same bits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkouts import mark_same_as_first, run_name

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime


def one(corpus: str, backend: str) -> None:
    """In a fresh process: read ``corpus``, then ``clean_stage`` timed; one JSON line out."""
    from dedup.config import Settings
    from dedup.pipeline import read_stage
    from dedup.prepare import clean_stage
    from dedup.progress import Stages

    settings = Settings(backend=backend, window_days=7, max_bytes=1 << 40)
    stages = Stages(None)
    articles, skipped, _ = read_stage([corpus], settings, None, stages)
    cpu, start = _cpu(), time.perf_counter()
    each, _, lexical, every_skip = clean_stage(articles, settings, skipped, stages, owned=True)
    wall, after = time.perf_counter() - start, _cpu()
    digest = hashlib.sha1()
    for c in each:
        digest.update(repr((c.place, c.article, c.day, c.future)).encode("utf-8", "surrogatepass"))
    digest.update(repr(every_skip).encode("utf-8", "surrogatepass"))
    if lexical is not None:
        for name in ("entities", "stems", "title"):
            matrix = getattr(lexical, name)
            for array in (matrix.data, matrix.indices, matrix.indptr):
                digest.update(array.tobytes())
    print(json.dumps({
        "wall_seconds": round(wall, 1),
        "stages_seconds": {k: round(v, 1) for k, v in stages.timings.items() if k != "read"},
        "cpu_seconds": round(after[0] - cpu[0], 1),
        "worker_cpu_seconds": round(after[1] - cpu[1], 1),
        "articles": len(each),
        "skipped": len(every_skip),
        "digest": digest.hexdigest(),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--checkout", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--backend", default="hybrid", choices=("hybrid", "lexical", "dense"))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.corpus, args.backend)
        return
    runs = {}
    for checkout in args.checkout or [ROOT]:
        env = {**os.environ, "PYTHONPATH": str(Path(checkout).resolve())}
        done = subprocess.run(
            [sys.executable, __file__, str(Path(args.corpus).resolve()), "--backend",
             args.backend, "--one"],
            check=True, env=env, capture_output=True, text=True, cwd=Path(checkout).resolve(),
        )  # fmt: skip
        runs[run_name(checkout, runs)] = json.loads(done.stdout.strip().splitlines()[-1])
    mark_same_as_first(runs, "same_as_first")
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
