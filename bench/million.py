"""`dedup cluster` over a generated news corpus of N articles: the time of each stage and the
peak memory of the whole run (issue 17, then issue 24: 10^6 articles with the static model in
at most 15 minutes and 8 GB on 2 cores; 10^5 in at most 1.2 GB and no slower than SemHash).

Builds the corpus with bench/news_corpus.py (unless it is there already), then runs

    dedup cluster CORPUS --model MODEL --backend hybrid --window-days 7 --no-cache --out DIR -v

in a fresh process and reads the stages' seconds from its log (`-v`: one line per stage as
it ends; the report's own `run.timings` lack the writing of the report). Memory is sampled
every second as the proportional set size (PSS) of the run and its workers together (Linux
``/proc/PID/smaps_rollup``): forked workers share pages with the parent, which plain RSS would
count twice; the peak RSS of the largest single process is given too, and each stage's own
peak (sampled from the end of the stage before it to its own end, as the log says it ends).

    .venv/bin/python bench/million.py --articles 1000000 --model static-e5/ [--work DIR]
        [--before CHECKOUT] [--semhash] [--out FILE.json]

``--before CHECKOUT`` runs the same command with the ``dedup`` of another checkout (a git
worktree of an older commit: ``PYTHONPATH=CHECKOUT``) right after this one, and
``--semhash`` runs SemHash (``pip install semhash``) on the same corpus with the same static
model (bench/semhash_run.py: embed every article's title and text, deduplicate at its default
threshold): each in its own fresh process, one after the other in this one invocation, so
their figures are side by side; the ratios are printed with them. The reports go to
``DIR/report-N`` and ``DIR/report-before-N`` (N: the articles), for bench/same_stories.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE_LINE = re.compile(r"INFO dedup\.progress: ([^:]+): .* in ([0-9.]+) (ms|s|min)\b")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return found


def own_pss_mib(pid: int) -> float:
    """The PSS of process ``pid`` alone (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mib(pid: int) -> float:
    """The PSS of ``pid`` and its descendants."""
    return sum(own_pss_mib(p) for p in tree(pid))


def seconds(value: str, unit: str) -> float:
    return float(value) * {"ms": 0.001, "s": 1.0, "min": 60.0}[unit]


def measure(command: Sequence[str], checkout: Path | None = None) -> dict[str, object]:
    """Wall seconds, the stages' seconds (from a ``-v`` log) and the peak PSS of a fresh
    process running ``command`` and its workers; with the ``dedup`` of ``checkout`` (run
    from there: ``python -m`` puts the working directory first on the path)."""
    env = None if checkout is None else {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        cwd=checkout,
    )  # fmt: skip
    peak = 0.0
    since = 0.0  # the peak since the last stage ended: the next stage's own

    def sample() -> None:
        nonlocal peak, since
        while proc.poll() is None:
            now = pss_mib(proc.pid)
            peak, since = max(peak, now), max(since, now)
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err, stage_peaks = [], {}
    for line in proc.stderr:  # as the run logs it: each stage's peak when it ends
        err.append(line)
        if found := STAGE_LINE.search(line):
            stage_peaks[found[1]], since = round(since), 0.0
    proc.wait()
    wall = time.perf_counter() - start
    sampler.join()
    log = "".join(err)
    if proc.returncode != 0:
        raise SystemExit(f"{command[2:4]} failed ({proc.returncode}):\n{log[-2000:]}")
    stages = {m[1]: seconds(m[2], m[3]) for m in STAGE_LINE.finditer(log)}
    return {
        "wall_seconds": round(wall, 1),
        "stages_seconds": {k: round(v, 1) for k, v in stages.items()},
        "peak_pss_mib": round(peak),
        "peak_pss_mib_by_stage": stage_peaks,
        "link_notes": [line.strip() for line in err if " dedup.link" in line],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--model", required=True, help="the static model (dedup distill)")
    parser.add_argument("--work", type=Path, default=Path("bench-million"), help="corpus, report")
    parser.add_argument("--before", type=Path, help="a checkout whose dedup runs second")
    parser.add_argument("--semhash", action="store_true", help="run SemHash on it too")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.work = args.work.resolve()
    if Path(args.model).exists():  # the --before run starts in its own checkout
        args.model = str(Path(args.model).resolve())
    corpus = args.work / f"news-{args.articles}.jsonl"
    if not corpus.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "news_corpus.py"), "--articles",
             str(args.articles), "--out", str(corpus), "--labels", str(corpus.with_suffix(".csv"))],
            check=True,
        )  # fmt: skip

    def cluster(out: str) -> list[str]:
        return [
            sys.executable, "-m", "dedup", "cluster", str(corpus), "--model", args.model,
            "--backend", "hybrid", "--window-days", "7", "--no-cache",
            "--max-bytes", str(corpus.stat().st_size + 1), "--out", str(args.work / out), "-v",
        ]  # fmt: skip

    # named by size: a 10^5 run beside a 10^6 one in the same work directory keeps both
    report, report_before = f"report-{args.articles}", f"report-before-{args.articles}"
    runs: dict[str, dict[str, object]] = {"dedup": measure(cluster(report), ROOT)}
    if args.before:
        runs["dedup_before"] = measure(cluster(report_before), args.before)
    if args.semhash:
        runs["semhash"] = measure(
            [sys.executable, str(ROOT / "bench" / "semhash_run.py"), str(corpus), args.model]
        )
    ours = float(runs["dedup"]["wall_seconds"])  # type: ignore[arg-type]
    result = {
        "articles": args.articles,
        "command": " ".join(cluster(report)[1:]),
        **runs,
        "wall_ratio_to_dedup": {
            name: round(float(run["wall_seconds"]) / ours, 3)  # type: ignore[arg-type]
            for name, run in runs.items()
        },
        "peak_rss_mib_largest_process": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
