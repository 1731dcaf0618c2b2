"""What the driver spends per article with --engine ray beside --engine local, side by side.

Reads the first ``--articles`` articles of a corpus once, then prepares them (clean, event
day, lexical profile, canonical order, represent: what `dedup cluster` does before linking)
with each engine in turn, ``--repeat`` times, and reports the wall seconds and the CPU seconds
of this process (the driver) per article. Ray runs on a local Ray of ``--cpus`` CPUs, started
once before the runs (its start is reported apart); its workers' CPU is not the driver's.
Keep ``--articles`` below dedup.prepare.PARALLEL_MIN (4,000), so that the local engine does
everything in this process, as the driver: its CPU is then the whole work.

    .venv/bin/python bench/ray_driver.py --corpus news-100000.jsonl --articles 2000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dedup.config import Settings
from dedup.pipeline import prepare
from dedup.read import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--backend", default="lexical")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        head = Path(work) / "head.jsonl"
        with args.corpus.open(encoding="utf-8") as lines, head.open("w", encoding="utf-8") as out:
            for _, line in zip(range(args.articles), lines, strict=False):
                out.write(line)
        articles, _ = read_corpus([str(head)])

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    runs: dict[str, dict[str, list[float]]] = {}
    stories: dict[str, int] = {}
    for _ in range(args.repeat):
        for engine in ("local", "ray"):
            settings = Settings(backend=args.backend, engine=engine, cache=None)
            wall, cpu = time.perf_counter(), time.process_time()
            prepared = prepare(list(articles), settings)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            seen = runs.setdefault(engine, {"wall_s": [], "driver_cpu_s": []})
            seen["wall_s"].append(wall)
            seen["driver_cpu_s"].append(cpu)
            stories[engine] = len(prepared.articles)
    ray.shutdown()
    best = {e: {k: min(v) for k, v in r.items()} for e, r in runs.items()}
    n = len(articles)
    print(
        json.dumps(
            {
                "articles": n,
                "backend": args.backend,
                "ray_start_s": round(ray_start, 1),
                "kept": stories,
                **{
                    engine: {
                        "wall_s": round(b["wall_s"], 2),
                        "driver_cpu_s": round(b["driver_cpu_s"], 2),
                        "driver_cpu_ms_per_article": round(1000 * b["driver_cpu_s"] / n, 3),
                    }
                    for engine, b in best.items()
                },
                "driver_cpu_ratio_ray_over_local": round(
                    best["ray"]["driver_cpu_s"] / best["local"]["driver_cpu_s"], 3
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
