"""A static model (`dedup distill`) beside the transformer it came from: texts encoded per second.

Both encoders run dedup's own path (dedup.represent.encoder.embed_articles: the article cut
into the chunks the model's window asks for, each chunk encoded, the chunks pooled) over the
same texts, in one process, one after the other, each model loaded before its clock starts:
the first `--sample` distinct texts of the SemEval-2022 dev pairs. The transformer is timed
once over them; the static model, far quicker, is timed over them `--repeat` times and its
median taken. The figure is articles per second and the ratio static / transformer (the goal
of issue 17: at least 50).

    .venv/bin/python bench/static_speed.py --static DIR [--model MODEL] [--sample 120]
        [--repeat 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from dedup.models import Article
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.encoder import Encoder, embed_articles
from dedup.represent.transformer import load_encoder

# ../shared beside the repository, as CI has it; DEDUP_EVAL_DIR for another place.
_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
PAIRS = Path(os.environ.get("DEDUP_EVAL_DIR", _EVAL)) / "semeval2022_pairs_dev.jsonl"


def dev_articles(limit: int) -> list[Article]:
    """The first ``limit`` distinct texts of the dev pairs, first line as the title."""
    seen: dict[str, Article] = {}
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for key, side in zip(row["pair_id"].split("_"), ("text1", "text2"), strict=True):
            if key not in seen and len(seen) < limit:
                title, _, body = row[side].strip().partition("\n")
                seen[key] = Article(id=key, title=title.strip(), text=body.strip())
    return list(seen.values())


def seconds(encoder: Encoder, articles: list[Article]) -> float:
    started = time.perf_counter()
    embed_articles(encoder, articles)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--static", required=True, help="the static model's directory")
    parser.add_argument("--model", default=BUNDLED_MODEL, help="the transformer it came from")
    parser.add_argument("--sample", type=int, default=120, help="dev texts encoded")
    parser.add_argument("--repeat", type=int, default=5, help="timings of the static model")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    if not PAIRS.is_file():
        sys.exit(f"static_speed: no dev pairs at {PAIRS} (set DEDUP_EVAL_DIR)")

    articles = dev_articles(args.sample)
    chars = sum(len(a.title) + len(a.text) for a in articles)
    transformer = load_encoder(args.model, device="cpu")
    static = load_encoder(args.static, device="cpu")
    seconds(static, articles[:4])  # first-call set-up kept off the clock for both
    seconds(transformer, articles[:4])
    slow = seconds(transformer, articles)
    quick = statistics.median(seconds(static, articles) for _ in range(args.repeat))
    figures = {
        "texts": len(articles),
        "mean_chars": round(chars / len(articles)),
        "transformer": args.model,
        "static": args.static,
        "static_dims": static.dim,
        "transformer_texts_per_s": round(len(articles) / slow, 2),
        "static_texts_per_s": round(len(articles) / quick, 1),
        "ratio": round(slow / quick, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
    }
    print(json.dumps(figures, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
