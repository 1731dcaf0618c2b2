"""The approximate search of the link stage (`link.link_ann`) on a real run's representations,
by one or more checkouts, each in a fresh process, side by side.

    .venv/bin/python bench/group_stage.py dump CORPUS --model MODEL --out ARGS.pkl
    .venv/bin/python bench/link_stage.py ARGS.pkl [--checkout DIR ...]

The input is what bench/group_stage.py dumps (the representations, the threshold and the link
floor of a ``dedup cluster`` run). Each checkout (``PYTHONPATH=DIR``; this one when none is
named) links every article from the floor up, keeping each one's neighbours complete at the
threshold, as ``dedup cluster`` does, but without its time window (the dump holds no dates)
and with exact copies linked like any article: more candidates than the run had; through files
in a temporary directory where the checkout streams its pairs so, as its pipeline does. Reported:
wall seconds, the peak RSS over what was loaded (``VmHWM``, reset through
``/proc/self/clear_refs`` before the call), the links found, and whether every checkout found
the same links, bit for bit, as the first.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from inspect import signature
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkouts import ROOT, digest_of, each_checkout, measured
from group_stage import held


def one(links_file: str, result: str) -> None:
    """In a fresh process: ``link_ann`` timed; its figures written to ``result``."""

    import numpy as np

    from dedup.link import link_ann

    with open(links_file, "rb") as f:
        reps, _, threshold, _, floor = pickle.load(f)
    floor = threshold if floor is None else min(floor, threshold)
    # As the checkout's pipeline links: through files under the result's directory where it
    # streams its pairs so (the fifteenth round on), in memory before.
    spill = {"spill": str(Path(result).parent)} if "spill" in signature(link_ann).parameters else {}
    link_ann(reps, floor, complete_at=threshold, among=np.arange(200))  # compiled first
    found, figures = measured(lambda: link_ann(reps, floor, complete_at=threshold, **spill))
    links = held(found)
    # The ends' values, whatever their type (int32 since the tenth round, int64 before).
    ends = (links.i.astype(np.int64), links.j.astype(np.int64))
    figures |= {"links": len(links.i), "digest": digest_of((*ends, links.sim))}
    Path(result).write_text(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("links", type=Path, help="a file bench/group_stage.py dump wrote")
    parser.add_argument("--checkout", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(str(args.links), args.one)
        return
    checkouts = args.checkout or [ROOT]
    runs = each_checkout(__file__, [str(args.links.resolve())], checkouts, "same_links_as_first")
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
