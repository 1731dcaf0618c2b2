"""How quickly `dedup --help`, `dedup --version` and a shell completion answer, for one or two
source trees side by side: the tree the script is in, and another one to compare it with.

Each call is a fresh `python -m dedup ...` process with PYTHONPATH set to the tree, so the
trees share one Python and one set of installed packages and differ in dedup's own code only.
The runs alternate between the trees, so that load on the machine falls on both alike; the
figure is the median wall time of ``--runs`` calls.

    .venv/bin/python bench/startup.py --runs 20                 # this tree
    .venv/bin/python bench/startup.py --runs 20 --before HEAD~2 # and a commit, side by side
    .venv/bin/python bench/startup.py --before ../other-tree    # and another source tree

``--before`` takes a directory holding a ``dedup/`` package, or a git revision of this
repository, exported (``git archive``) into a temporary directory: no checkout, no stash.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CALLS: dict[str, tuple[list[str], dict[str, str]]] = {
    "dedup --help": (["--help"], {}),
    "dedup --version": (["--version"], {}),
    # What a shell runs at each Tab: complete `dedup cl`.
    "completion of `dedup cl`": (
        [],
        {"_DEDUP_COMPLETE": "complete_bash", "COMP_WORDS": "dedup cl", "COMP_CWORD": "1"},
    ),
}


def export(revision: str, into: Path) -> Path:
    """The ``dedup/`` package of ``revision``, written under ``into``."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "dedup"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into


def call(tree: Path, args: list[str], env: dict[str, str], cwd: str) -> float | None:
    """Seconds one ``python -m dedup ARGS`` takes with ``tree`` first on the path; None when
    it fails (a tree from before shell completion has none)."""
    environment = {**os.environ, **env, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dedup", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        print(f"{args or env} fails in {tree}: {done.stderr.decode().strip()[-300:]}")
        return None
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="calls of each command per tree")
    parser.add_argument(
        "--before", help="a source tree, or a git revision of this repository, to compare with"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if args.before:
            given = Path(args.before)
            trees = {
                f"before ({args.before})": given.resolve()
                if (given / "dedup").is_dir()
                else export(args.before, Path(tmp) / "before"),
                **trees,
            }
        times: dict[tuple[str, str], list[float | None]] = {}
        for name, (argv, env) in CALLS.items():
            working = {n: t for n, t in trees.items() if call(t, argv, env, tmp) is not None}
            # That first call also warmed the file cache: every timed call starts alike.
            for tree_name in trees.keys() - working.keys():
                times[(name, tree_name)] = [None]
            for _ in range(args.runs):
                for tree_name, tree in working.items():
                    times.setdefault((name, tree_name), []).append(call(tree, argv, env, tmp))
    names = list(trees)
    header = ["command", *(f"{n}, s" for n in names)]
    if len(names) == 2:
        header.append("before / after")
    print(f"median of {args.runs} calls, Python {sys.version.split()[0]}")
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    for name in CALLS:
        medians = [_median(times[(name, n)]) for n in names]
        row = [name, *("fails" if m is None else f"{m:.3f}" for m in medians)]
        if len(medians) == 2:
            before, after = medians
            row.append("" if before is None or after is None else f"{before / after:.1f}x")
        print("| " + " | ".join(row) + " |")


def _median(times: list[float | None]) -> float | None:
    return None if None in times else statistics.median(t for t in times if t is not None)


if __name__ == "__main__":
    main()
