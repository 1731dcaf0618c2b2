"""`dedup tune`: labelled data in every shape it reads, a tuned model that loads, is
calibrated and is run by --model, and the errors of labels it cannot tune on. The tiny test
model tunes in seconds; the bundled model's tuned figures are in docs/evaluation.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.represent.tuned import NOTE

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ARTICLES = SAMPLES / "articles"
runner = CliRunner()


def _sentences() -> dict[str, list[str]]:
    """Each sample article's longer sentences, by its story (from samples/labels.csv)."""
    story = dict(
        line.split(",") for line in (SAMPLES / "labels.csv").read_text().split()[1:] if line
    )
    out: dict[str, list[str]] = {}
    for path in sorted(ARTICLES.glob("*.txt")):
        parts = re.split(r"(?<=[.!?])\s+", path.read_text(encoding="utf-8"))
        out.setdefault(story[path.name], []).extend(p.strip() for p in parts if len(p) > 60)
    return out


def write_pairs(path: Path, count: int = 40, *, graded: bool = True) -> Path:
    """Pairs of sentences of the samples: same story (overall 1) or not (overall 4)."""
    by_story = _sentences()
    stories = sorted(by_story)
    rows = []
    for k in range(count):
        a = stories[k % len(stories)]
        same = k % 2 == 0
        b = a if same else stories[(k + 1) % len(stories)]
        first, second = (
            by_story[a][k % len(by_story[a])],
            by_story[b][(k * 7 + 3) % len(by_story[b])],
        )
        label = {"overall": 1 if same else 4} if graded else {"same_story": same}
        rows.append({"pair_id": str(k), "text1": first, "text2": second, **label})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tune(*args: str) -> object:
    return runner.invoke(app, ["tune", *args, "--epochs", "1", "--batch-size", "4", "-q"])


def test_a_tuned_model_is_calibrated_and_run_by_model(tiny_model_dir: Path, tmp_path: Path):
    out = tmp_path / "tuned"
    labels = write_pairs(tmp_path / "pairs.jsonl")
    result = tune(
        str(labels), "--model", str(tiny_model_dir), "--out", str(out), "--holdout", "0.5"
    )
    assert result.exit_code == 0, result.output
    assert (out / "adapter_model.safetensors").stat().st_size < 1_000_000
    note = json.loads((out / NOTE).read_text())
    assert note["base"] == str(tiny_model_dir.resolve())
    table = note["calibration"]
    assert table["held_out"]["pairs"] == 20
    assert 0.2 <= table["hybrid"]["threshold"] <= 0.9
    assert set(table["hybrid"]["fusion"]) >= {"same", "cross", "curve"}
    assert not list(tmp_path.glob(".tuned.*"))  # the work directory is gone
    run = runner.invoke(
        app, ["cluster", str(ARTICLES), "--model", str(out), "--backend", "hybrid", "--json"]
    )
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert report["run"]["model"] == str(out)
    assert report["run"]["threshold"] == table["hybrid"]["threshold"]
    assert not any("no calibration of its own" in w for w in report["run"]["warnings"])


def test_the_same_labels_and_seed_give_the_same_model(tiny_model_dir: Path, tmp_path: Path):
    labels = write_pairs(tmp_path / "pairs.jsonl", graded=False)
    made = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = tune(str(labels), "-m", str(tiny_model_dir), "-o", str(out), "--holdout", "0")
        assert result.exit_code == 0, result.output
        made.append((out / "adapter_model.safetensors").read_bytes())
    assert made[0] == made[1]
    assert "calibration" not in json.loads((tmp_path / "one" / NOTE).read_text())


def test_a_whole_model_tune_with_matryoshka_loads_with_its_prefix(
    tiny_model_dir: Path, tmp_path: Path
):
    from dedup.represent.transformer import load_encoder

    out = tmp_path / "whole"
    labels = write_pairs(tmp_path / "pairs.jsonl")
    result = tune(
        str(labels), "-m", str(tiny_model_dir), "-o", str(out), "--rank", "0", "--matryoshka", "16"
    )
    assert result.exit_code == 0, result.output
    assert not (out / "adapter_config.json").exists()
    assert json.loads((out / NOTE).read_text())["recipe"]["matryoshka"] == [16]
    encoder = load_encoder(str(out), device="cpu")
    assert encoder.prefix == ""
    assert encoder.encode(["one text"]).shape == (1, 32)


def test_a_labelled_corpus_and_judgements_give_pairs(tiny_model_dir: Path, tmp_path: Path):
    from dedup.tune import labels as labelled
    from dedup.tune.tuner import _articles

    judgements = tmp_path / "judgements.jsonl"
    judgements.write_text(
        json.dumps(
            {
                "verdict": "not_in_story",
                "article": "004_52d5d83340d3b63e.txt",
                "story": 1,
                "with": ["000_f774f4f1cbedfdc2.txt", "001_aaaffca6d3a117fd.txt"],
            }
        )
        + "\n"
        + json.dumps(
            {
                "verdict": "same_story",
                "stories": [1, 2],
                "articles": [["000_f774f4f1cbedfdc2.txt"], ["002_032a9271a5345743.txt"]],
            }
        )
        + "\n"
    )
    given = labelled.read_labels([SAMPLES / "labels.csv"], [judgements])
    assert given.needs_corpus and len(given.by_id) == 3
    articles, vectors = _articles(given, [str(ARTICLES)], None, str(tiny_model_dir), "cpu")
    examples = labelled.resolve(given, articles, vectors)
    scores = sorted(e.score for e in examples)
    # 3 judged pairs, 2 within stories A and B, hard negatives across stories
    assert scores.count(1.0) == 3 and scores.count(0.0) >= 4
    labelled.check(examples)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"pair_id": "1", "text1": "a b", "text2": "c d", "overall": 1}\n', "too few"),
        (
            "".join(
                json.dumps({"pair_id": str(k), "text1": f"a {k}", "text2": f"b {k}", "overall": 1})
                + "\n"
                for k in range(12)
            ),
            "every labelled pair is the same story",
        ),
        ("not json\n", "not valid JSON"),
        ('{"id1": "x", "id2": "y", "same_story": true}\n', "--corpus"),
        ('{"a": 1}\n', "not labels dedup tune reads"),
        ('{"pair_id": "1", "text1": "a", "text2": "b", "overall": 9}\n' * 1, "overall"),
    ],
)
def test_labels_it_cannot_tune_on_are_one_line_errors(tmp_path: Path, content: str, message: str):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(content)
    result = tune(str(labels), "-o", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_an_existing_output_directory_is_refused(tmp_path: Path):
    labels = write_pairs(tmp_path / "pairs.jsonl")
    (tmp_path / "out").mkdir()
    result = tune(str(labels), "-o", str(tmp_path / "out"))
    assert result.exit_code != 0 and "already exists" in result.output


def test_a_tuned_model_whose_base_is_gone_is_one_model_error(tiny_model_dir: Path, tmp_path: Path):
    out = tmp_path / "tuned"
    labels = write_pairs(tmp_path / "pairs.jsonl")
    assert (
        tune(str(labels), "-m", str(tiny_model_dir), "-o", str(out), "--holdout", "0").exit_code
        == 0
    )
    note = json.loads((out / NOTE).read_text())
    note["base"] = str(tmp_path / "gone")
    (out / NOTE).write_text(json.dumps(note))
    result = runner.invoke(app, ["cluster", str(ARTICLES), "-m", str(out), "--backend", "dense"])
    assert result.exit_code != 0
    assert "cannot load model" in result.output and "Traceback" not in result.output


def test_a_broken_calibration_in_a_tuned_note_is_one_model_error(tmp_path: Path):
    from dedup.errors import ModelError
    from dedup.represent.calibration import for_directory

    (tmp_path / NOTE).write_text(json.dumps({"base": "x", "calibration": {"dense": {}}}))
    with pytest.raises(ModelError, match="broken calibration"):
        for_directory(tmp_path)
