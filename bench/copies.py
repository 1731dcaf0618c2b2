"""A story of N exact copies (a wire text run by every outlet): time and peak memory of
`cluster_articles`, this checkout beside another one (``--baseline DIR``, e.g. a worktree of
an earlier commit), each in a fresh process, in one run.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/copies.py --copies 2500 --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
from dedup.config import Settings
from dedup.models import Article
from dedup.pipeline import cluster_articles

n = int(sys.argv[1])
wire = "Storm Kirk flooded the harbour of Lisbon on Tuesday; 1,200 homes lost power."
other = "Soyuz MS-22 docked with the International Space Station on Wednesday."
articles = [Article(id=f"c{k}", title="Kirk", text=wire) for k in range(n)]
articles.append(Article(id="o", title="Soyuz", text=other))
start = time.perf_counter()
report = cluster_articles(articles, Settings(backend="lexical"))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak, "sizes": [s.size for s in report.stories]}))
"""


def measure(checkout: Path, copies: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(copies)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2500)
    parser.add_argument("--baseline", type=Path, default=None)
    args = parser.parse_args()
    rows = {"this checkout": measure(ROOT, args.copies)}
    if args.baseline is not None:
        rows["baseline"] = measure(args.baseline, args.copies)
    for name, row in rows.items():
        print(f"{name}: {json.dumps(row)}")
    if args.baseline is not None:
        base, ours = rows["baseline"], rows["this checkout"]
        speed = float(base["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
        memory = float(base["peak_mib"]) / float(ours["peak_mib"])  # type: ignore[arg-type]
        print(f"baseline / this: time x{speed:.1f}, peak memory x{memory:.1f}")


if __name__ == "__main__":
    main()
