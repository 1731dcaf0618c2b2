"""``--fast``: the model's transformer exported once to ONNX with int8 weights, run by onnxruntime.

sentence-transformers' own ONNX backend (``backend="onnx"``) needs optimum-onnx, whose newest
release (0.1.0) pins transformers below 4.58 while sentence-transformers 6 needs transformers
5, so the two cannot be installed together. This module does the same work with the pieces that do
install: ``torch.onnx.export`` writes the transformer as ONNX and onnxruntime's
``quantize_dynamic`` stores its matrix weights as int8 per channel (the recipe of
sentence-transformers' ``export_dynamic_quantized_onnx_model`` with optimum's ``avx512_vnni``
configuration, restricted to MatMul: quantising the embedding tables too cost accuracy and
no time; per tensor instead of per channel cost far more). The transformer is exported with
plain (eager) attention, whose MatMuls quantise. The result replaces the transformer inside
the loaded SentenceTransformer, so tokenisation, length-sorted batching, pooling and
normalisation stay the library's own.

The export is cached in the directory the caller gives (:mod:`dedup.represent.transformer` puts
it under the user's cache directory, ``DEDUP_CACHE_DIR`` or platformdirs'), one file per model
weights and recipe, written under a temporary name and renamed into place, so an export that is
killed half-way leaves nothing that a later run would load.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dedup.errors import ModelError, one_line

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["RECIPE", "onnx_int8_path", "use_onnx_int8"]

logger = logging.getLogger(__name__)

#: Names the export and quantisation recipe; change it whenever they change, so old files in
#: users' caches are not loaded as if they were made the new way.
RECIPE = "onnx-int8-eager-matmul-perchannel-1"

_OUTPUT = "last_hidden_state"
_OPSET = 17
# A temporary export directory this old belongs to an export that was killed.
_STALE_SECONDS = 24 * 3600


def _transformer(st: SentenceTransformer) -> Any:
    """The first module when it is a plain text transformer giving token embeddings."""
    first: Any = st[0]
    config = getattr(first, "modality_config", None)
    if not hasattr(first, "model") or not isinstance(config, dict):
        raise ValueError("its first module is not a transformer")
    text = config.get("text") or {}
    if text.get("method") != "forward" or text.get("method_output_name") != _OUTPUT:
        raise ValueError("its transformer does not give token embeddings from forward()")
    return first


def _input_names(st: SentenceTransformer) -> list[str]:
    tokenizer: Any = st.tokenizer
    names = [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask")]
    if "token_type_ids" in tokenizer.model_input_names:
        names.append("token_type_ids")
    if "input_ids" not in names:
        raise ValueError("its tokenizer gives no input_ids")
    return names


def onnx_int8_path(identity: str, model: str, directory: Path) -> Path:
    """Where in ``directory`` the export of the model with weights ``identity`` is cached."""
    key = hashlib.sha256(f"{RECIPE}\n{identity}".encode()).hexdigest()[:20]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/\\")).name)[:60] or "model"
    return directory / f"{stem}-{key}.onnx"


@contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer's and the quantiser's advice, which is for the person exporting.

    onnxruntime's quantiser logs through the root logger; with no handler there, that call
    would install a stderr handler for the rest of the run. A null handler prevents it.
    """
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def _export(st: SentenceTransformer, names: Sequence[str], target: Path) -> None:
    """Export ``st``'s transformer to ONNX, quantise it, and rename the result to ``target``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    module = _transformer(st).model
    # Plain (eager) attention exports as MatMuls the quantiser turns into int8; the default
    # fused attention exports as a graph that stays float (measured: 1.4x instead of 1.8x).
    setter = getattr(module, "set_attn_implementation", None)
    if callable(setter):
        setter("eager")

    class _Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            out = self.inner(**dict(zip(names, tensors, strict=True)), return_dict=True)
            return out[_OUTPUT]  # type: ignore[no-any-return]

    tokenizer: Any = st.tokenizer
    sample = tokenizer(["dedup exports this model", "once"], padding=True, return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(".export-*"):  # left by exports killed long ago
        if time.time() - stale.stat().st_mtime > _STALE_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        plain, quantised = work / "model.onnx", work / "model_int8.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, _OUTPUT]}
        with _quiet_export(), torch.no_grad():
            torch.onnx.export(
                _Forward().eval(),
                tuple(sample[name] for name in names),
                str(plain),
                input_names=list(names),
                output_names=[_OUTPUT],
                dynamic_axes=axes,
                opset_version=_OPSET,
                dynamo=False,
            )
            quantize_dynamic(
                plain,
                quantised,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        os.replace(quantised, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _OnnxTransformer:
    """Stands in for the torch transformer: same inputs, token embeddings from onnxruntime."""

    def __init__(self, session: Any, names: Sequence[str], config: Any) -> None:
        self.session = session
        self.names = list(names)
        self.config = config  # read by sentence-transformers (window, hidden size)

    def forward(self, **features: Any) -> dict[str, Any]:
        import torch

        feeds = {name: features[name].cpu().numpy() for name in self.names}
        (hidden,) = self.session.run([_OUTPUT], feeds)
        return {_OUTPUT: torch.from_numpy(hidden)}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def use_onnx_int8(st: SentenceTransformer, model: str, identity: str, directory: Path) -> Path:
    """Run ``st``'s transformer as the int8 ONNX export cached in ``directory``, exporting it
    there first if needed.

    ``identity`` names the weights (see :func:`.model_files.weights_identity`). Returns the
    export's path. Any failure is a one-line :class:`ModelError`.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"running the model as int8 ONNX needs onnxruntime and onnx, which are not installed "
            f"({one_line(exc)}): pip install onnxruntime onnx",
            setting="fast",
        ) from exc
    try:
        first = _transformer(st)
        names = _input_names(st)
    except ValueError as exc:
        raise ModelError(f"cannot run model {model} as int8 ONNX: {exc}", setting="fast") from exc

    path = onnx_int8_path(identity, model, directory)
    session = None
    if path.is_file():
        try:
            session = _session(path)
            logger.info("using the int8 ONNX export %s", path)
        except Exception as exc:  # damaged by something else than dedup: make it again
            logger.warning("cached ONNX export %s is unusable (%s); exporting again", path, exc)
    if session is None:
        logger.info("exporting %s to int8 ONNX at %s (once)", model, path)
        try:
            _export(st, names, path)
            session = _session(path)
        except Exception as exc:
            raise ModelError(
                f"cannot export model {model} to int8 ONNX: {one_line(exc)}", setting="fast"
            ) from exc
    wrapper = _OnnxTransformer(session, names, first.model.config)
    # Replace the torch module: plain attribute assignment, so its weights are freed.
    first._modules.pop("model", None)
    object.__setattr__(first, "model", wrapper)
    return path
