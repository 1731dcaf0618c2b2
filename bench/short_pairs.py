"""The SemEval-2022 dev pairs cut short: each text to its first sentence (its headline, where
it has one), both sides of every pair, with the pair's grade kept.

dedup's defaults must hold on short items as on articles (docs/evaluation.md, "One scale");
these are the same pairs as the dev file, so the two measure the length alone. The file is
written where you say, never into the repository (the texts are the outlets'). Run:

    .venv/bin/python bench/short_pairs.py /tmp/dev_first_sentence.jsonl
    .venv/bin/dedup evaluate pairs /tmp/dev_first_sentence.jsonl --sweep
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dev_stories import PAIRS

from dedup.evaluate import Pair, load_pairs
from dedup.tune.examples import first_sentence


def cut_pairs(pairs: Sequence[Pair]) -> list[Pair]:
    """Each pair with both texts cut to their first sentence."""
    return [
        dataclasses.replace(
            p,
            title1="",
            text1=first_sentence(p.title1, p.text1),
            title2="",
            text2=first_sentence(p.title2, p.text2),
        )
        for p in pairs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the JSONL file to write")
    parser.add_argument("--pairs", type=Path, default=PAIRS, help="the dev pairs file")
    args = parser.parse_args()
    with args.out.open("w", encoding="utf-8") as out:
        for p in cut_pairs(load_pairs(args.pairs)):
            row = {"pair_id": p.id, "lang1": p.lang1, "lang2": p.lang2}
            row |= {"text1": p.text1, "text2": p.text2, "overall": p.overall}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
