"""Choose `dedup distill`'s recipe by measurement: the weighting of the token vectors (SIF),
the PCA dimensions and added words, each scored on the dev pairs and the ITN dev items.

The transformer runs once: every token of the bundled model's tokenizer (and, with
``--top-words N``, wordfreq's N most frequent words of each of its languages, as written and
capitalised, that the tokenizer cuts into two or more tokens, each added as one token as
``dedup distill --vocabulary`` adds them) through
model2vec's own pass (about 5 minutes on 2 cores), the raw vectors kept in ``--work`` for
reruns, by the number of words added. Each recipe is then made from them as model2vec makes
it (PCA, then each token's vector times ``SIF / (SIF + p)``, ``p`` by its rank, stored in
float16) and scored:

* the hybrid and dense backends' Pearson on the dev pairs, 5-fold cross-validated, by
  bench/fit_fusion.py (the model's mean stored first, the fusion refitted in each fold);
* the dense backend's best pairwise F1 on the ITN dev items over a sweep of thresholds
  (`dedup evaluate clusters --sweep`): short items across 44 languages, which the dev pairs
  do not hold; at each short-text lift of ``--lifts`` (none, and the bundled model's 1.75),
  since the lift moves these scores more than the recipe does. What ships is chosen by
  bench/calibrate.py's rule for the recipe chosen here.

Both run against a copy of the ``dedup`` package in ``--work``, whose calibration table takes
each recipe's numbers, so the checkout's own table is never written. Run:

    .venv/bin/python bench/static_recipes.py --work recipes/ --sif 1e-4 1e-5 --dims 256 384
    .venv/bin/python bench/static_recipes.py --work recipes/ --top-words 3000 --sif 1e-4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ITN = ROOT.parent / "shared" / "eval" / "itn_dev"


def frequent_words(tokenizer: Any, n: int) -> list[str]:
    """wordfreq's ``n`` most frequent words of each of its languages, as written and with a
    capital (titles, names), of letters only and 4 or more of them, that ``tokenizer`` (the
    bundled model's) cuts into two or more tokens."""
    import unicodedata

    import wordfreq

    seen: set[str] = set()
    words = []
    for language in sorted(wordfreq.available_languages(wordlist="best")):
        for word in wordfreq.top_n_list(language, n):
            if len(word) < 4 or any(unicodedata.category(c)[0] not in "LM" for c in word):
                continue
            for form in (word, word[:1].upper() + word[1:]):
                if form not in seen:
                    seen.add(form)
                    if len(tokenizer.tokenize(form)) >= 2:
                        words.append(form)
    return words


def tokenizer_models(encoder: Any, words: list[str]) -> tuple[Any, Any]:
    """The bundled model's tokenizer as model2vec reads it, and the same with ``words``."""
    from model2vec.tokenizer import clean_and_create_vocabulary
    from skeletoken import TokenizerModel

    original = TokenizerModel.from_transformers_tokenizer(encoder.model.tokenizer)
    original = original.prune_added_tokens()
    model = original.deep_copy()
    if model.adds_prefix_space is not None:
        model.adds_prefix_space = True
    return original, clean_and_create_vocabulary(model, words, token_remove_regex=None)


def raw_vectors(work: Path, encoder: Any, words: list[str]) -> tuple[Any, np.ndarray]:
    """The tokenizer with ``words`` added, and the transformer's vector of each of its tokens
    before PCA and weighting, in its order (computed once, then read from ``work``)."""
    original, model = tokenizer_models(encoder, words)
    vectors, tokens = work / f"raw-{len(words)}.npy", work / f"raw-{len(words)}-tokens.json"
    if not vectors.exists():
        from model2vec.distill.inference import create_embeddings
        from model2vec.tokenizer import turn_tokens_into_ids
        from skeletoken.external.transformers import reshape_embeddings

        made = model.sorted_vocabulary
        ids = turn_tokens_into_ids(made, original)
        transformer = reshape_embeddings(encoder.model[0].auto_model, original)
        raw = create_embeddings(
            tokenized=ids, model=transformer, device="cpu", pad_token_id=original.pad_token_id or 0
        )
        np.save(vectors, raw.astype(np.float32))
        tokens.write_text(json.dumps(made), encoding="utf-8")
    row = {token: k for k, token in enumerate(json.loads(tokens.read_text(encoding="utf-8")))}
    return model, np.load(vectors)[[row[t] for t in model.sorted_vocabulary]]


def make_recipe(out: Path, model: Any, raw: np.ndarray, sif: float, dims: int) -> None:
    from model2vec.distill.inference import apply_pca, compute_weights
    from model2vec.model import StaticModel
    from model2vec.quantization import DType, quantize_embeddings

    table = apply_pca(raw.astype(np.float64), dims)
    table *= compute_weights(len(table), sif_coefficient=sif)[:, None]
    config = {"apply_pca": dims, "sif_coefficient": sif, "normalize": True, "pooling": "mean"}
    StaticModel(
        vectors=quantize_embeddings(table, DType("float16")),
        tokenizer=model.to_tokenizer(),
        config=config,
        normalize=True,
    ).save_pretrained(str(out))


def score(model: Path, package: Path, lifts: list[float]) -> dict[str, float]:
    # Run in the copy, so that ``-m dedup`` imports it rather than a package in the cwd.
    run = {"env": {**os.environ, "PYTHONPATH": str(package)}, "cwd": package, "check": True,
           "capture_output": True, "text": True}  # fmt: skip
    table = package / "dedup" / "data" / "calibration.json"
    fit = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fit_fusion.py"), "--model", str(model),
         "--with-mean", "--out", str(table)], **run,  # type: ignore[call-overload]
    ).stdout  # fmt: skip
    figures = {}
    for line in fit.splitlines():
        name, _, rest = line.partition(" ")
        if name in ("hybrid", "dense_centred"):
            figures[f"dev {name} {'cv' if name == 'hybrid' else 'pearson'}"] = json.loads(
                rest.removeprefix("cv ")
            )["all"]
    for lift in lifts:  # the short-text lift (dedup.represent.scale) moves the ITN scores most
        doc = json.loads(table.read_text(encoding="utf-8"))
        key = next(k for k, t in doc["models"].items() if t.get("name") == str(model))
        doc["models"][key]["dense"]["short_lift"] = lift
        table.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        sweep = subprocess.run(
            [sys.executable, "-m", "dedup", "evaluate", "clusters", str(ITN / "itn.jsonl"),
             "--labels", str(ITN / "labels.csv"), "--backend", "dense", "--model", str(model),
             "--sweep"], **run,  # type: ignore[call-overload]
        ).stdout  # fmt: skip
        rows = re.findall(r"^(0\.\d+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)", sweep, re.MULTILINE)
        best = max(rows, key=lambda r: float(r[1]))
        figures[f"itn dense best F1, lift {lift:g}"] = float(best[1])
        figures[f"at, lift {lift:g}"] = float(best[0])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sif", type=float, nargs="+", default=[1e-4])
    parser.add_argument("--dims", type=int, nargs="+", default=[256])
    parser.add_argument("--top-words", type=int, default=0, help="add each language's N first")
    parser.add_argument("--lifts", type=float, nargs="+", default=[0.0, 1.75])
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    from dedup.config import default_model
    from dedup.represent.transformer import load_encoder

    encoder = load_encoder(default_model(), trainable=True)  # once, for every step below
    words = frequent_words(encoder.model.tokenizer, args.top_words) if args.top_words else []
    package = args.work / "package"
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(ROOT / "dedup", package / "dedup")
    model, raw = raw_vectors(args.work, encoder, words)
    for sif in args.sif:
        for dims in args.dims:
            name = f"sif{sif:g}-dims{dims}-words{len(words)}"
            out = args.work / name
            shutil.rmtree(out, ignore_errors=True)
            make_recipe(out, model, raw, sif, dims)
            print(json.dumps({"recipe": name, **score(out, package, args.lifts)}), flush=True)


if __name__ == "__main__":
    main()
