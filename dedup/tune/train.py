"""Fine-tuning: a sentence-transformers model taught graded pairs, as a LoRA adapter or whole.

:func:`fine_tune` takes the encoder dedup runs (loaded by :mod:`dedup.represent.transformer`,
so the bundled model, a hub name and a directory all work) and a list of :class:`Example`
(two texts and a similarity in [0, 1]), trains it with sentence-transformers' trainer and the
CoSENT loss (optionally wrapped in Matryoshka), and writes what it learnt into a new
directory: a peft LoRA adapter by default (a few MB), the whole model at LoRA rank 0.
The texts are the ones the encoder sees: the caller gives them with its prefix already on.
Same examples, same options, same seed: the same weights, on the same machine and libraries.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The modules of a BERT layer a LoRA adapter adapts (attention and feed-forward).
LORA_TARGETS = (
    "query",
    "key",
    "value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True)
class Example:
    """Two texts as the encoder sees them and how alike they are, 0 (not) to 1 (same story)."""

    text1: str
    text2: str
    score: float


@dataclass(frozen=True)
class Recipe:
    """How a model is tuned: every choice that changes the weights."""

    epochs: int = 2
    learning_rate: float = 2e-4
    batch_size: int = 16
    lora_rank: int = 16  # 0: a full fine-tune
    lora_alpha: int = 32
    max_tokens: int = 128
    matryoshka: tuple[int, ...] = ()
    warmup: float = 0.1
    seed: int = 0

    @property
    def full(self) -> bool:
        return self.lora_rank == 0

    def steps(self, examples: int) -> int:
        return self.epochs * math.ceil(examples / self.batch_size)


def fine_tune(
    st: Any,
    examples: Sequence[Example],
    recipe: Recipe,
    out: Path,
    *,
    device: str = "cpu",
    step_done: Callable[[int, int, float | None], None] | None = None,
) -> None:
    """Train ``st`` (a SentenceTransformer, changed in place) on ``examples`` and save what it
    learnt into ``out`` (a new directory): the adapter, or the whole model when ``recipe.full``.
    ``step_done(step, steps, loss)`` is called after each optimiser step."""
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss
    from sentence_transformers.sentence_transformer.training_args import (
        SentenceTransformerTrainingArguments,
    )
    from transformers import TrainerCallback, set_seed

    set_seed(recipe.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    st.max_seq_length = min(recipe.max_tokens, st.max_seq_length or recipe.max_tokens)
    transformer = st[0]
    if not recipe.full:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=recipe.lora_rank,
            lora_alpha=recipe.lora_alpha,
            lora_dropout=0.0,
            target_modules=list(_targets(transformer.model)),
        )
        transformer.model = get_peft_model(transformer.model, config)
    st.train()
    data = Dataset.from_dict(
        {
            "sentence1": [e.text1 for e in examples],
            "sentence2": [e.text2 for e in examples],
            "score": [float(e.score) for e in examples],
        }
    )
    loss: Any = CoSENTLoss(st)
    if recipe.matryoshka:
        loss = MatryoshkaLoss(st, loss, matryoshka_dims=list(recipe.matryoshka))
    steps = recipe.steps(len(examples))

    class Told(TrainerCallback):  # type: ignore[misc]  # untyped upstream
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if step_done is not None:
                value = (logs or {}).get("loss")
                step_done(state.global_step, steps, None if value is None else float(value))

    scratch = out.parent / f".{out.name}.trainer"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(scratch),
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        warmup_ratio=recipe.warmup,
        seed=recipe.seed,
        data_seed=recipe.seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=device == "cpu",
        dataloader_num_workers=0,
    )
    trainer = SentenceTransformerTrainer(
        model=st, args=args, train_dataset=data, loss=loss, callbacks=[Told()]
    )
    trainer.train()
    st.eval()
    out.mkdir(parents=True)
    if recipe.full:
        st.save(str(out))
    else:
        transformer.model.save_pretrained(str(out))
    os.sync()


def _targets(model: Any) -> list[str]:
    """The LoRA target names present in ``model`` (BERT's; XLM-R's are the same)."""
    names = {name for name, _ in model.named_modules()}
    found = [t for t in LORA_TARGETS if any(n.endswith(t) for n in names)]
    if not found:
        raise ValueError("the model has none of the layers a LoRA adapter adapts")
    return found
