"""How evaluation results look: plain text tables for the terminal, and the sweep's plot."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dedup.errors import DedupError, InputError, OutputError
from dedup.evaluate.scores import DIGITS

log = logging.getLogger(__name__)

PAIR_KEYS = ("n", "pearson", "spearman", "auc", "threshold", "precision", "recall", "f1")
PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{DIGITS}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _footer(result: Mapping[str, Any]) -> str:
    model = result.get("model")
    return f"backend: {result.get('backend')}" + (f", model: {model}" if model else "")


def render_pairs_table(result: Mapping[str, Any]) -> str:
    """The overall scores, then one row per language pair."""
    header = ["pair", "n", "pearson", "spearman", "auc", "threshold", "P", "R", "F1"]

    def row(name: str, scores: Mapping[str, Any]) -> list[Any]:
        return [name] + [scores.get(k) for k in PAIR_KEYS]

    rows = [row("all", result)]
    by_pair = result.get("by_language_pair", {})
    rows += [row(key, by_pair[key]) for key in sorted(by_pair)]
    return _table(header, rows) + "\n\n" + _footer(result)


def render_clusters_table(result: Mapping[str, Any]) -> str:
    """Pairwise and B-cubed precision/recall/F1, then ARI, AMI and cross-language recall."""
    prf = _table(
        ["", "precision", "recall", "F1"],
        [
            ["pairwise"] + [result.get(f"pairwise_{k}") for k in ("precision", "recall", "f1")],
            ["B-cubed"] + [result.get(f"bcubed_{k}") for k in ("precision", "recall", "f1")],
        ],
    )
    other = _table(
        ["", "value"],
        [
            ["ARI", result.get("ari")],
            ["AMI", result.get("ami")],
            ["cross-language recall", result.get("cross_language_recall")],
        ],
    )
    summary = (
        f"{result.get('n')} labelled articles, {result.get('stories')} stories found "
        f"at threshold {_cell(result.get('threshold'))}; {_footer(result)}"
    )
    return f"{prf}\n\n{other}\n\n{summary}"


def render_sweep_table(rows: Sequence[Mapping[str, float]]) -> str:
    """One line per threshold, a column per figure (those of the first row, in its order)."""
    if not rows:
        return ""
    header = list(rows[0])
    body = [
        [int(r[k]) if k == "stories" and r.get(k) is not None else r.get(k) for k in header]
        for r in rows
    ]
    return _table(header, body)


def plot_sweep(rows: Sequence[Mapping[str, float]], path: Path, *, title: str) -> None:
    """Precision, recall and F1 against the threshold, as PNG or SVG (by ``path``'s suffix)."""
    path = Path(path)
    fmt = PLOT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"plot must be .png or .svg, got {path.name}")
    if not rows:
        raise InputError("nothing to plot: the sweep has no rows")
    try:
        # Figure without pyplot: no global backend state, Agg renders the PNG.
        from matplotlib.figure import Figure
    except ImportError:
        raise DedupError(
            "plots need matplotlib: pip install 'dedup[plot]'", setting="plot"
        ) from None
    ordered = sorted(rows, key=lambda r: r["threshold"])
    x = [r["threshold"] for r in ordered]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for key, label in (("precision", "precision"), ("recall", "recall"), ("f1", "F1")):
        ax.plot(x, [r[key] for r in ordered], marker="o", markersize=3, label=label)
    ax.set(xlabel="threshold", ylabel="score", title=title, ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    # SVG carries a date by default; leave it out so the same sweep writes the same file.
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
    tmp_name = ""
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as fh:
            tmp_name = fh.name
            fig.savefig(fh, format=fmt, metadata=metadata)
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise OutputError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
    log.info("wrote %s", path)


__all__ = ["plot_sweep", "render_clusters_table", "render_pairs_table", "render_sweep_table"]
