"""The story store against one batch run on a dated feed, with the default backend: a corpus
fed to an empty store in chronological batches, against one batch run over all of it.

Issue 23 asks the store to keep a batch run's stories: pairwise F1 >= 0.97 between the store's
final stories and the batch's. On ITN dev (its `published` dates, `--window-days 30`, four
batches), by default:

    .venv/bin/python bench/store_batches.py ../shared/eval/itn_dev/itn.jsonl \\
        --labels ../shared/eval/itn_dev/labels.csv --batches 4 --window-days 30

(bench/store_replay.py replays the dev texts day by day with the lexical backend.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_replay import scores

from dedup import Settings, Store, add_to_store, evaluate
from dedup.pipeline import cluster_articles, labels_for
from dedup.read import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="a dated corpus (every article with a published date)")
    parser.add_argument("--labels", type=Path, default=None, help="id,story: scored too")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--window-days", type=int, default=30)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    settings = Settings(backend=args.backend, window_days=args.window_days)
    articles, _ = read_corpus([args.corpus])
    articles = sorted((a for a in articles if a.published), key=lambda a: (a.published, a.id))
    batch = labels_for(cluster_articles(articles, settings))
    size = -(-len(articles) // args.batches)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        for k in range(0, len(articles), size):
            add_to_store(articles[k : k + size], settings, store)
        stored = {m.article.id: s.id for s in store.stories() for m in s.members}
    out: dict[str, object] = {
        "articles": len(articles),
        "batches": args.batches,
        "store_vs_batch": scores(stored, batch),
    }
    if args.labels is not None:
        known = {k: v for k, v in evaluate.load_labels(args.labels).items() if k in batch}
        out["batch_vs_labels"] = scores({k: batch[k] for k in known}, known)
        out["store_vs_labels"] = scores({k: stored[k] for k in known if k in stored}, known)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
