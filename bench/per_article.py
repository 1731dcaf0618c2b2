"""The per-article stages (cleaning, the event day, the lexical profile and its hashed counts)
of two versions of dedup side by side: CPU milliseconds per article, and whether the new code
gives the old one's outputs bit for bit.

Each version runs in its own fresh process (one core, caches cold as a worker's are, the
language identifier and the word frequencies loaded before the clocks start), with
``PYTHONPATH`` set to its checkout, over the same articles, one after the other; with
``--rounds`` more than 1 they take turns and each stage's least time is kept (the machine is
shared). The old version is dedup as committed at ``--reference`` (default ``main``),
unpacked with ``git archive`` into a temporary directory, or a checkout given with
``--reference-dir``; the new one is this checkout. Timed, stage by stage:

* ``clean``: ``dedup.clean.clean_article`` (run day fixed, so both give the same dates);
* ``day``: ``dedup.represent.days.stated_event_day`` of the cleaned article;
* ``profile``: ``dedup.represent.lexical.profile`` of the cleaned article;
* ``counts``: ``lexical_counts`` of those profiles;
* ``gc``: the garbage collector's full and partial collections during the four, which
  fall in whichever stage is running when allocations add up (kept out of the four);
* ``prepare``: what a run pays, ``dedup.prepare._clean_part`` then ``_profile_part`` (with
  hashed counts) a part of 1,000 at a time, as a pool's worker runs them (its collections
  included), caches warm from the passes before.

The articles go through the stages 1,000 at a time (a part, as a pool's worker has them), only
the stages' own calls timed. Compared, by a fingerprint of each (a SHA-1 of its repr: floats
in full, dicts in order, so that a corpus of any size fits): each cleaned article (every
field, or the skip's reason), its day, its profile (the entities and stems with their weights,
in order; and regardless of order) and each part's hashed counts (CSR arrays, byte for byte).
The corpora (``--corpus``, repeatable): ``bench`` (the news corpus of bench/news_corpus.py, read
with dedup's own reader; ``--bench-corpus``), ``dev`` (every text of the SemEval dev pairs,
bench/dev_stories.py), ``itn`` (the ITN dev items), ``samples`` (samples/articles), ``fuzz``
(made-up articles that stress the stages, :func:`fuzz_articles`) or a path dedup reads.

    .venv/bin/python bench/per_article.py --corpus bench --articles 20000 [--rounds 2]
        [--reference main | --reference-dir DIR] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import io
import itertools
import json
import os
import pickle
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BENCH_CORPUS = Path("/work/bench24/news-100000.jsonl")
ITN = SHARED / "eval" / "itn_dev" / "itn.jsonl"
SAMPLES = ROOT / "samples" / "articles"
TODAY = dt.date(2026, 12, 4)
PART = 1_000
T = TypeVar("T")
STAGES = ("clean", "day", "profile", "counts", "gc", "prepare")


def load(corpus: str, limit: int | None, bench_corpus: Path) -> list[Any]:
    """The articles of ``corpus`` (see the module's notes), the first ``limit`` of them."""
    from dedup.models import Article
    from dedup.read import read_corpus

    if corpus == "fuzz":
        articles = fuzz_articles(limit or 3000)
    elif corpus == "dev":
        from dev_stories import dev_stories

        texts = [t for story in dev_stories().values() for t in story]
        articles = [Article(id=t.id, title=t.title, text=t.body, lang=t.lang) for t in texts]
    elif corpus == "bench" and limit is not None:
        # Only the first lines (the reader would read and keep the whole file), as standard
        # input, so that both versions' articles have the same origins.
        with bench_corpus.open("rb") as src:
            head = b"".join(itertools.islice(src, limit))
        articles, _ = read_corpus(["-"], stdin=io.BytesIO(head), max_bytes=len(head) + 1)
    else:
        path = {"bench": bench_corpus, "itn": ITN, "samples": SAMPLES}.get(corpus, Path(corpus))
        size = sum(f.stat().st_size for f in ([path] if path.is_file() else path.rglob("*")))
        articles, _ = read_corpus([str(path)], max_bytes=size + 1)
    return articles[:limit] if limit is not None else articles


_PIECES = (
    "Tô Lâm", "Hà Nội", "NVIDIA", "Jensen Huang", "\ud800", "\x00", "\u200b", "\u00ad",
    "\ufeff", "ß", "µ", "²", "½", "ſ", "2024-12-06", "6 December 2024", "Dec. 6", "6/12",
    "ngày 6 tháng 12", "2024年12月6日", "Chiều 6.12", "am 6. März", "Share", "Facebook",
    "Ảnh: TTXVN", "(Foto: dpa)", "Related", "Tin liên quan", "© 2024", "Hotline: 0123 456 789",
    "http://x.y/z", "a@b.cc", " ", "  ", "\n", "\n\n", "\t", ".", ",", "’", "'", "-", "—",
    "«", "»", "“", "”", "(", ")", "The", "minister", "said", "Regierung", "über", "İstanbul",
    "ıi", "Łódź", "ترامب", "Москва", "北京", "東京都", "ソユーズ", "ไทย", "12,000", "1.5",
    "3'000", "U.S.", "e.g.", "l'arc", "AB", "中AB", "ǅx", "Ⅻ", "①", "٣", "१२", "x" * 50,
)  # fmt: skip


def fuzz_articles(n: int, seed: int = 0) -> list[Any]:
    """``n`` articles made of pieces that stress the per-article stages: every script, dates
    in many forms, widgets, credits, lone surrogates, invisible and control characters, odd
    languages and dates (the same ones for the same ``seed``)."""
    from dedup.models import Article

    rng = random.Random(seed)

    def text(words: int) -> str:
        return "".join(
            rng.choice(_PIECES) + rng.choice(("", " ", " ", " ", "\n")) for _ in range(words)
        )

    langs = (None, "en", "de", "vi", "ja", "zh", "ar", "tr", "xx", "en-US", "")
    days = (None, dt.date(2024, 12, 6), dt.date(2999, 1, 1))
    return [
        Article(
            id=f"f{k}",
            title=text(rng.randint(0, 8)),
            text=text(rng.randint(0, 120)),
            lang=rng.choice(langs),
            published=rng.choice(days),
        )
        for k in range(n)
    ]


def warm_up(langs: set[str | None]) -> None:
    """Load once what a worker loads once (the language identifier, each language's word
    frequencies), so that the figures are per article."""
    from dedup.clean import detect_language
    from dedup.clean.frequency import zipf

    detect_language("A sentence long enough for the language identifier to load its model.")
    for lang in langs:
        try:
            zipf("a", lang or "en")
        except Exception:  # a language wordfreq has no list for: dedup knows it as unknown
            continue


class _Clock:
    """CPU time with the garbage collector's apart: it collects when allocations add up,
    in whichever stage happens to be running (a full collection of a worker's heap is a
    tenth of a second), so each stage is timed without it and the collections on their own."""

    def __init__(self) -> None:
        self.collecting = 0.0
        self.began = 0.0
        gc.callbacks.append(self._collection)

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.began = time.process_time()
        else:
            self.collecting += time.process_time() - self.began

    def time(self, seconds: dict[str, float], stage: str, make: Callable[[], T]) -> T:
        """``make()``, its CPU time added to ``seconds[stage]`` but the collections' in it,
        which go to ``seconds["gc"]``."""
        collected = self.collecting
        started = time.process_time()
        out = make()
        spent = time.process_time() - started
        collected = self.collecting - collected
        seconds[stage] += spent - collected
        seconds["gc"] += collected
        return out


def digest(value: object) -> bytes:
    """A value's fingerprint, from its repr (floats in full, dicts in order)."""
    return hashlib.sha1(repr(value).encode("utf-8", "surrogatepass")).digest()


def work(corpus: str, limit: int | None, bench_corpus: Path, out: Path) -> None:
    """One version's CPU seconds per stage and the fingerprints of its outputs, each article's
    and each part's, pickled to ``out`` (in a worker). A part at a time, so that a corpus of
    any size fits; only the stage's own calls are timed."""
    from dedup import prepare
    from dedup.clean import clean_article
    from dedup.represent.days import stated_event_day
    from dedup.represent.lexical import lexical_counts, profile

    articles = load(corpus, limit, bench_corpus)
    warm_up({a.lang for a in articles})
    clock = _Clock()
    seconds = dict.fromkeys(STAGES, 0.0)
    fingerprints: dict[str, list[bytes | None]] = {
        "cleaned": [],
        "day": [],
        "profile": [],
        "profile_as_dicts": [],
        "counts": [],
    }

    def clean_all(part: list[Any]) -> list[Any]:
        made: list[Any] = []
        for article in part:
            try:
                made.append(clean_article(article, today=TODAY))
            except Exception as exc:  # a skip: its reason is compared
                made.append(f"{type(exc).__name__}: {exc}")
        return made

    for k in range(0, len(articles), PART):
        made = clock.time(seconds, "clean", partial(clean_all, articles[k : k + PART]))
        kept = [c for c in made if not isinstance(c, str)]
        days = clock.time(seconds, "day", partial(list, map(stated_event_day, kept)))
        profiles = clock.time(seconds, "profile", partial(list, map(profile, kept)))
        counts = clock.time(seconds, "counts", partial(lexical_counts, kept, profiles))
        fingerprints["cleaned"] += [digest(c) for c in made]
        found = iter(zip(days, profiles, strict=True))
        for c in made:
            day, made_profile = next(found) if not isinstance(c, str) else (None, None)
            fingerprints["day"].append(digest(day))
            if made_profile is None:
                fingerprints["profile"].append(None)
                fingerprints["profile_as_dicts"].append(None)
                continue
            entities, stems = made_profile.entities.items(), made_profile.stems.items()
            fingerprints["profile"].append(digest((list(entities), list(stems))))
            fingerprints["profile_as_dicts"].append(digest((sorted(entities), sorted(stems))))
        fingerprints["counts"].append(
            digest(
                [
                    (m.data.tobytes(), m.indices.tobytes(), m.indptr.tobytes())
                    for m in (counts.entities, counts.stems, counts.title)
                ]
            )
        )

    def prepare_all() -> None:
        for k in range(0, len(articles), PART):
            done, _ = prepare._clean_part(list(enumerate(articles[k : k + PART], start=k)))
            prepare._profile_part([(c.article, c.place) for c in done], True)

    started = time.process_time()
    prepare_all()
    seconds["prepare"] = time.process_time() - started  # its collections included
    with out.open("wb") as f:
        pickle.dump({"n": len(articles), "seconds": seconds, **fingerprints}, f)


def run_version(code: Path, corpus: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(out),
        "--corpus",
        corpus,
        "--bench-corpus",
        str(args.bench_corpus),
    ]
    if args.articles is not None:
        command += ["--articles", str(args.articles)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run(command, env=env, check=True, cwd=tempfile.gettempdir())
    with out.open("rb") as f:
        result: dict[str, Any] = pickle.load(f)
    return result


def differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, int]:
    """How many articles (or parts of 1,000, for the counts) differ, per output."""
    out = {"articles": old["n"]}
    for output in ("cleaned", "day", "profile", "profile_as_dicts", "counts"):
        out[output] = sum(a != b for a, b in zip(old[output], new[output], strict=True))
    return out


def reference_code(args: argparse.Namespace, tmp: Path) -> Path:
    if args.reference_dir is not None:
        return Path(args.reference_dir).resolve()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.reference, "dedup"],
        check=True,
        capture_output=True,
    ).stdout
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    return tmp


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", action="append", help="bench, dev, itn, samples or a path")
    parser.add_argument("--articles", type=int, help="only the first so many of each corpus")
    parser.add_argument("--bench-corpus", type=Path, default=BENCH_CORPUS)
    parser.add_argument("--reference", default="main", help="the old code: a git revision")
    parser.add_argument("--reference-dir", help="the old code: a checkout (holds dedup/)")
    parser.add_argument("--rounds", type=int, default=1, help="turns each version takes")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    corpora = args.corpus or ["bench"]
    if args.worker is not None:
        work(corpora[0], args.articles, args.bench_corpus, args.worker)
        return
    figures: dict[str, Any] = {"machine": platform.platform(), "corpora": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old_code = reference_code(args, tmp / "old")
        for corpus in corpora:
            best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
            results: dict[str, dict[str, Any]] = {}
            for _ in range(args.rounds):
                for name, code in (("old", old_code), ("new", ROOT)):
                    result = run_version(code, corpus, args, tmp / f"{name}.pickle")
                    results[name] = result
                    for stage, seconds in result["seconds"].items():
                        best[name][stage] = min(best[name].get(stage, seconds), seconds)
            n = results["new"]["n"]
            ms = {
                name: {stage: 1000 * s / n for stage, s in times.items()}
                for name, times in best.items()
            }
            diff = differences(results["old"], results["new"])
            figures["corpora"][corpus] = {"articles": n, "ms_per_article": ms, "differ": diff}
            print(f"{corpus}: {n:,} articles, CPU ms per article (least of {args.rounds})")
            print(f"  {'stage':<8} {'old':>8} {'new':>8} {'ratio':>7}")
            for stage in STAGES:
                old, new = ms["old"][stage], ms["new"][stage]
                ratio = old / new if new else float("inf")
                print(f"  {stage:<8} {old:8.3f} {new:8.3f} {ratio:6.1f}x")
            print(f"  differ: {diff}")
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
