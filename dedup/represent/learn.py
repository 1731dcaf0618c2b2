"""A distilled static model trained on a corpus to say what the transformer says (tokenlearn's
route: featurize texts with the transformer, then train the token table to reproduce them).

Distilling gives each token the transformer's vector for that token alone, out of any context.
Training then reads real texts: the transformer embeds each one as dedup embeds an article (its
chunks, title and lead first, pooled); those vectors, mapped linearly into the static model's
own space (:func:`aligned_targets`), are the targets; and the rows of the tokens the corpus
holds, with a weight per token, are trained (cosine loss, AdamW, early stopping on a held-out
tenth) until the weighted mean of a text's token vectors points where the target does. The
tokens the corpus does not hold keep their distilled vectors.

Measured on the SemEval dev pairs (docs/benchmarks.md, "Training on a corpus"), training on
the ~1,900 short ITN items did not help: only a corpus like the one to be grouped does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dedup.errors import InputError

if TYPE_CHECKING:
    from model2vec import StaticModel

__all__ = ["MIN_TEXTS", "Learnt", "aligned_targets", "corpus_digest", "learn"]

logger = logging.getLogger(__name__)

#: Fewer texts than this teach nothing that can be told from noise: say so rather than train.
MIN_TEXTS = 20
#: The trainer's seed: the same corpus and model give the same table.
SEED = 42
#: Passes over the corpus at most; training stops earlier when the held-out loss stops falling.
MAX_EPOCHS = 40
#: The ridge penalty of the map from the transformer's space to the static one, per text.
RIDGE = 1e-3
#: Texts whose pairs measure the agreement with the transformer (their cosines, all pairs).
AGREEMENT_TEXTS = 400


@dataclass(frozen=True)
class Learnt:
    """What training did: how many texts and distinct tokens, and how alike the static model and
    the transformer find the first texts, before and after (see :func:`_agreement`)."""

    texts: int
    tokens_seen: int
    agreement_before: float
    agreement_after: float


def corpus_digest(texts: Sequence[str]) -> str:
    """A digest of the training texts in order: the same corpus names the same recipe."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def aligned_targets(
    model: StaticModel, texts: Sequence[str], vectors: NDArray[np.float32]
) -> NDArray[np.float32]:
    """The transformer's vectors mapped into the static model's own space: the linear map
    (ridge least squares) that best turns each text's transformer vector into its distilled
    static vector. A corpus trains only the tokens it holds; the others keep their distilled
    vectors, and a text mixes both, so the targets must sit in the space the untouched rows
    live in (tokenlearn's PCA of the targets would move the trained rows to another)."""
    mine = np.nan_to_num(model.encode(list(texts), max_length=None)).astype(np.float64)
    mine /= np.maximum(np.linalg.norm(mine, axis=1, keepdims=True), 1e-12)
    theirs = vectors.astype(np.float64)
    gram = theirs.T @ theirs + RIDGE * len(theirs) * np.eye(theirs.shape[1])
    mapping = np.linalg.solve(gram, theirs.T @ mine)
    return (theirs @ mapping).astype(np.float32)


def _agreement(model: StaticModel, texts: Sequence[str], vectors: NDArray[np.float32]) -> float:
    """How alike the static model and the transformer find the texts: the Pearson correlation of
    their cosines over every pair of ``texts`` (the two spaces need not be the same)."""
    mine = np.nan_to_num(model.encode(list(texts), max_length=None)).astype(np.float64)
    theirs = vectors.astype(np.float64)
    upper = np.triu_indices(len(texts), k=1)
    cosines = []
    for matrix in (mine, theirs):
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        cosines.append((unit @ unit.T)[upper])
    return float(np.corrcoef(cosines[0], cosines[1])[0, 1])


def _train_rows(
    table: NDArray[np.float32],
    ids: Sequence[Sequence[int]],
    targets: NDArray[np.float32],
    *,
    learning_rate: float,
    max_epochs: int,
    patience: int = 3,
    batch_size: int = 32,
) -> NDArray[np.float32]:
    """The rows of ``table`` that ``ids`` use, and a weight for each, trained so that the
    weighted sum of a text's rows points along its target (cosine loss, AdamW as tokenlearn);
    early stopping on a held-out tenth of the texts, the best epoch kept. Only those rows are
    in memory and in the optimiser: a 250,000-token table would cost a step its whole size."""
    import torch

    torch.manual_seed(SEED)
    seen = np.unique(np.fromiter((t for one in ids for t in one), dtype=np.int64))
    local = [
        torch.from_numpy(np.searchsorted(seen, np.asarray(one, dtype=np.int64))) for one in ids
    ]
    rows = torch.nn.Parameter(torch.from_numpy(table[seen].astype(np.float32)))
    weights = torch.nn.Parameter(torch.ones(len(seen)))
    wanted = torch.nn.functional.normalize(torch.from_numpy(targets), dim=1)
    order = np.random.default_rng(SEED).permutation(len(ids))
    held = max(1, len(ids) // 10)
    val, train = order[:held], order[held:]

    def loss_of(batch: NDArray[np.int64]) -> torch.Tensor:
        flat = torch.cat([local[k] for k in batch])
        owner = torch.repeat_interleave(
            torch.arange(len(batch)), torch.tensor([len(local[k]) for k in batch])
        )
        summed = torch.zeros(len(batch), rows.shape[1]).index_add_(
            0, owner, rows[flat] * weights[flat, None]
        )
        mine = torch.nn.functional.normalize(summed, dim=1)
        return 1 - (mine * wanted[torch.from_numpy(batch)]).sum(dim=1).mean()

    optimiser = torch.optim.AdamW([rows, weights], lr=learning_rate, weight_decay=0.01)
    best, best_state, waited = float("inf"), (rows.detach().clone(), weights.detach().clone()), 0
    rng = np.random.default_rng(SEED)
    for epoch in range(max_epochs):
        shuffled = rng.permutation(train)
        for start in range(0, len(shuffled), batch_size):
            optimiser.zero_grad()
            loss_of(shuffled[start : start + batch_size]).backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        with torch.no_grad():
            now = float(loss_of(val))
        logger.debug("epoch %d: held-out loss %.4f", epoch + 1, now)
        if now < best - 1e-4:
            best, best_state, waited = now, (rows.detach().clone(), weights.detach().clone()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    trained = table.astype(np.float32, copy=True)
    trained[seen] = (best_state[0] * best_state[1][:, None]).numpy()
    return trained


def learn(
    model: StaticModel,
    texts: Sequence[str],
    vectors: NDArray[np.float32],
    *,
    learning_rate: float = 2e-3,
) -> tuple[StaticModel, Learnt]:
    """``model`` trained so that each text's static vector reproduces the transformer's
    ``vectors`` (one row per text). An :class:`InputError` when there are too few texts."""
    if len(texts) != len(vectors):
        raise ValueError("one vector per text")
    if len(texts) < MIN_TEXTS:
        raise InputError(
            f"the corpus has {len(texts)} usable texts:"
            f" at least {MIN_TEXTS} are needed to train on",
            setting="corpus",
        )
    targets = aligned_targets(model, texts, vectors)
    ids = model.tokenize(list(texts))
    from model2vec import StaticModel

    table = _train_rows(
        np.asarray(model.embedding),
        ids,
        targets,
        learning_rate=learning_rate,
        max_epochs=MAX_EPOCHS,
    )
    learnt = StaticModel(
        vectors=table.astype(np.asarray(model.embedding).dtype),  # float16 as distilled
        tokenizer=model.tokenizer,
        config=model.config,
        normalize=model.normalize,
        max_length=model.max_length,
        base_model_name=model.base_model_name,
        language=model.language,
    )
    seen = {t for one in ids for t in one}
    sample = list(texts[:AGREEMENT_TEXTS])
    figures = Learnt(
        texts=len(texts),
        tokens_seen=len(seen),
        agreement_before=_agreement(model, sample, vectors[: len(sample)]),
        agreement_after=_agreement(learnt, sample, vectors[: len(sample)]),
    )
    logger.info(
        "trained on %d texts (%d distinct tokens): agreement with the transformer %.3f -> %.3f",
        figures.texts,
        figures.tokens_seen,
        figures.agreement_before,
        figures.agreement_after,
    )
    return learnt, figures
