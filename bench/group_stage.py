"""The group stage on a real run's links: `group`, `describe` and `related_pairs`, run by one or
more checkouts on the same pickled input, each in a fresh process, side by side.

    .venv/bin/python bench/group_stage.py dump CORPUS --model MODEL --out ARGS.pkl
    .venv/bin/python bench/group_stage.py measure ARGS.pkl [--checkout DIR ...]

``dump`` runs ``dedup cluster CORPUS --model MODEL --backend hybrid --window-days 7 --no-cache
-v`` (the command of bench/million.py) up to grouping and pickles what ``group`` is given:
the representations, the links, the threshold, the copies and the link floor. ``measure``
loads them in a fresh process per checkout and step (``PYTHONPATH=DIR``; this one when none
is named: memory one step freed and kept would hide the next one's), hands the links over as
the checkout's pipeline does (written to files first where it streams them through files, the
fifteenth round on: ``SpilledLinks``), runs the steps once on
a few links first (so that numba's compiling or loading its cache is not counted), then the
step on everything: its wall and CPU seconds (``process_time``: the pair kernels run in a
thread per core, so the two differ) and its peak RSS over what was loaded
(Linux: the peak is reset before the step through ``/proc/self/clear_refs`` and read from
``VmHWM`` after it). Then it says whether every checkout gave the same stories and the same
related pairs as the first, and by how much the related pairs' mean similarities differ.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkouts import ROOT, measured, run_name


def dump(args: argparse.Namespace) -> None:
    import dedup.pipeline as pipeline
    from dedup.cli import app

    def keep(reps, links, threshold, copy_of=None, *, floor=None):  # type: ignore[no-untyped-def]
        links = held(links)  # as arrays: any checkout reads them, whatever its classes
        with open(args.out, "wb") as f:
            pickle.dump((reps, (links.i, links.j, links.sim), threshold, copy_of, floor), f, 5)
        print(f"{len(links.i):,} links written to {args.out}", file=sys.stderr)
        raise SystemExit(0)

    pipeline.group = keep  # the run stops where grouping would start
    size = Path(args.corpus).stat().st_size + 1
    sys.argv = ["dedup", "cluster", args.corpus, "--model", args.model, "--backend", "hybrid",
                "--window-days", "7", "--no-cache", "--max-bytes", str(size),
                "--out", tempfile.mkdtemp(), "-v"]  # fmt: skip
    app()


STEPS = ("group", "describe", "related_pairs")


def held(links):  # type: ignore[no-untyped-def]
    """Links in memory, however the run kept them (in files since the fifteenth round)."""
    from dedup.link import Links

    if isinstance(links, Links):
        return links
    import numpy as np

    parts = list(links.chunks())
    return Links(*(np.concatenate([getattr(p, c) for p in parts]) for c in ("i", "j", "sim")))


def as_run_hands_them(links, under: str):  # type: ignore[no-untyped-def]
    """The links as this checkout's pipeline hands them to grouping: written to files where
    it streams them through files (``dedup.link.SpilledLinks``), else as they are."""
    import dedup.link as link

    if not hasattr(link, "SpilledLinks"):
        return links
    spilled = link.SpilledLinks(under, links.i.dtype.type)
    for part in links.chunks():
        spilled.append(part)
    return spilled


def one(args: argparse.Namespace) -> None:
    """In a fresh process: one step, timed; its figures and result written to ``args.result``
    (``describe`` and ``related_pairs`` read the stories ``group`` wrote to ``args.labels``)."""

    import numpy as np

    import dedup.group as grouping
    from dedup.link import Links

    with open(args.links, "rb") as f:
        reps, links, threshold, copy_of, floor = pickle.load(f)
    links = Links(*links) if isinstance(links, tuple) else links
    labels = None if args.step == "group" else np.load(args.labels)
    few = Links(links.i[:1000], links.j[:1000], links.sim[:1000])
    small, grouping.EXACT_COMPONENT_MAX = grouping.EXACT_COMPONENT_MAX, 0  # every path compiled
    warm = grouping.group(reps, few, threshold, floor=floor)
    grouping.related_pairs(reps, warm, few, floor, threshold)
    grouping.describe(reps, warm[:50])
    grouping.EXACT_COMPONENT_MAX = small
    links = as_run_hands_them(links, str(Path(args.result).parent))
    call = {
        "group": lambda: grouping.group(reps, links, threshold, copy_of, floor=floor),
        "describe": lambda: grouping.describe(reps, labels, copy_of),
        "related_pairs": lambda: grouping.related_pairs(reps, labels, links, floor, threshold),
    }[args.step]
    out, figures = measured(call)
    if args.step == "group":
        np.save(args.labels, out)
    with open(args.result, "wb") as f:
        pickle.dump((figures, out if args.step == "related_pairs" else None), f)


def measure(args: argparse.Namespace) -> None:
    import numpy as np

    checkouts = args.checkout or [ROOT]
    runs = []
    for checkout in checkouts:
        env = {**os.environ, "PYTHONPATH": str(Path(checkout).resolve())}
        figures, related = {}, None
        with tempfile.TemporaryDirectory() as tmp:
            labels, result = Path(tmp) / "labels.npy", Path(tmp) / "result.pkl"
            for step in STEPS:  # each in its own process: a step's peak is its own
                subprocess.run(
                    [sys.executable, __file__, "_one", step, str(args.links), str(labels),
                     str(result)],
                    check=True, env=env, cwd=tmp,
                )  # fmt: skip
                with open(result, "rb") as f:
                    figures[step], found = pickle.load(f)
                related = found if step == "related_pairs" else related
            name = run_name(checkout, [r[0] for r in runs])
            runs.append((name, figures, np.load(labels), related))
    _, _, first_labels, first_related = runs[0]
    report = {
        checkout: {
            **figures,
            "stories": int(labels.max()) + 1 if len(labels) else 0,
            "related_found": len(related),
            "same_stories_as_first": bool((labels == first_labels).all()),
            "same_related_as_first": [p[:2] for p in related] == [p[:2] for p in first_related],
            "related_mean_largest_difference": max(
                (abs(a[2] - b[2]) for a, b in zip(related, first_related, strict=False)),
                default=0.0,
            ),
        }
        for checkout, figures, labels, related in runs
    }
    print(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="run dedup cluster up to grouping; pickle its input")
    d.add_argument("corpus")
    d.add_argument("--model", required=True)
    d.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("measure", help="the group stage's steps by each checkout")
    m.add_argument("links", type=Path)
    m.add_argument("--checkout", type=Path, action="append", help="a checkout (repeatable)")
    o = sub.add_parser("_one")
    o.add_argument("step", choices=STEPS)
    o.add_argument("links", type=Path)
    o.add_argument("labels", type=Path)
    o.add_argument("result", type=Path)
    args = parser.parse_args()
    {"dump": dump, "measure": measure, "_one": one}[args.command](args)


if __name__ == "__main__":
    main()
