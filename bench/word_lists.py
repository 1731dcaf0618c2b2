"""What a process holds to know how common words are: wordfreq's own lookups against dedup's
compact lists (dedup/clean/frequency.py), side by side, each in a fresh process.

    .venv/bin/python bench/word_lists.py [--langs en,de,fr,es,ar,pl,tr] [--words 20000]

For each way: the resident memory the lists add once loaded (the commonest words and every
word's frequency, as the per-article pass asks for them), the seconds to load them, the
seconds to look up the same words (taken from each list, half of them made unknown), and a
digest of the values looked up, which must be the same for both ways.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(way: str, words_file: str) -> None:
    """In a fresh process: load the lists ``way`` loads them, look the words up; one JSON
    line out."""
    from wordfreq import top_n_list, zipf_frequency

    from dedup.clean.frequency import commonest, zipf

    with open(words_file, encoding="utf-8") as given:
        words: dict[str, list[str]] = json.load(given)
    look, top = (zipf_frequency, top_n_list) if way == "wordfreq" else (zipf, commonest)
    before, start = _rss_mib(), time.perf_counter()
    for lang in words:
        top(lang, 150)
        look("a", lang)
    loaded, after_load = time.perf_counter() - start, _rss_mib()
    digest, start = hashlib.sha1(), time.perf_counter()
    for lang, some in words.items():
        for word in some:
            digest.update(repr(look(word, lang)).encode())
        digest.update(repr(top(lang, 150)).encode())
    looked = time.perf_counter() - start
    print(json.dumps({
        "held_mib": round(after_load - before, 1),
        "load_seconds": round(loaded, 2),
        "lookup_seconds": round(looked, 2),
        "lookups": sum(map(len, words.values())),
        "digest": digest.hexdigest()[:16],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="en,de,fr,es,ar,pl,tr")
    parser.add_argument("--words", type=int, default=20000)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(*args.one)
        return
    from wordfreq import top_n_list

    # The same words for both ways: every other one of each list's commonest, and each of
    # them made unknown.
    words = {}
    for lang in args.langs.split(","):
        some = top_n_list(lang, args.words)[::2]
        words[lang] = some + [w + "qz" for w in some]
    out = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        json.dump(words, file)
        file.flush()
        for way in ("wordfreq", "dedup"):
            run = subprocess.run(
                [sys.executable, __file__, "--one", way, file.name],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            out[way] = json.loads(run.stdout.strip().splitlines()[-1])
    out["held_ratio_wordfreq_to_dedup"] = round(
        out["wordfreq"]["held_mib"] / max(out["dedup"]["held_mib"], 0.1), 1
    )
    out["same_values"] = out["wordfreq"]["digest"] == out["dedup"]["digest"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
