"""`--explain` evidence reaches every report a person reads: the table, Markdown and HTML (the
browser side is in test_html_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dedup.cli import app

SAMPLES = str(Path(__file__).parent.parent / "samples" / "articles")


def _run(out: Path, *extra: str) -> dict[str, object]:
    args = ["cluster", SAMPLES, "--backend", "lexical", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    doc: dict[str, object] = json.loads((out / "report.json").read_text("utf-8"))
    return doc


def test_markdown_lists_the_evidence_of_every_explained_link(tmp_path: Path) -> None:
    doc = _run(tmp_path / "out", "--explain")
    markdown = (tmp_path / "out" / "report.md").read_text("utf-8")
    evidence = markdown.split("## Evidence\n", 1)[1]
    explained = doc["explanations"]
    assert isinstance(explained, list) and explained
    heads = [line for line in evidence.splitlines() if line.startswith("- ")]
    assert len(heads) == len(explained)
    for ev, head in zip(explained, heads, strict=True):
        a, b = (x.replace("_", "\\_") for x in (ev["a"], ev["b"]))
        assert f"{a} ~ {b} {ev['similarity']:.2f}" in head
    assert evidence.count("  - shared: ") == len(explained)
    assert "  - shared: nvidia, ^nvidia, vietnam" in evidence  # S2: the same NVIDIA visit


def test_without_explain_no_report_carries_evidence(tmp_path: Path) -> None:
    doc = _run(tmp_path / "out")
    assert "explanations" not in doc
    assert "## Evidence" not in (tmp_path / "out" / "report.md").read_text("utf-8")
