"""The article texts of the SemEval-2022 dev pairs, grouped into their known stories.

A known story is a connected group of texts whose pairs were rated 1.5 or closer ("very
similar"); every other text is a story of its own. The benchmarks that need real texts with
known stories (bench/store_replay.py, bench/news_corpus.py) read them from here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

# ../shared beside the repository, as CI has it; DEDUP_EVAL_DIR for another place.
_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
PAIRS = Path(os.environ.get("DEDUP_EVAL_DIR", _EVAL)) / "semeval2022_pairs_dev.jsonl"
SAME_STORY = 1.5  # the pair's "overall" rating at or below which two texts tell one story


@dataclass(frozen=True)
class DevText:
    id: str
    title: str
    body: str
    lang: str


def dev_stories(pairs: Path = PAIRS) -> dict[str, list[DevText]]:
    """The known stories by a name of each (one of its ids), each a list of its texts, in a
    fixed order (by their first id)."""
    texts: dict[str, tuple[str, str]] = {}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for line in pairs.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        a, b = row["pair_id"].split("_")
        texts.setdefault(a, (row["text1"], row["lang1"]))
        texts.setdefault(b, (row["text2"], row["lang2"]))
        if row["overall"] <= SAME_STORY:
            parent[find(a)] = find(b)
    members: dict[str, list[DevText]] = {}
    for a in sorted(texts):
        text, lang = texts[a]
        title, _, body = text.partition("  ")  # the dev texts: title, two spaces, body
        members.setdefault(find(a), []).append(DevText(a, title.strip(), body.strip(), lang))
    return members
