"""Progress across the stages: what a run tells a Progress (every stage, in order, with its
totals), the INFO line ``-v`` logs per stage, the rich display on a terminal and nothing of
it elsewhere, and what ``--quiet`` leaves out."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from rich.console import Console
from typer.testing import CliRunner

import dedup.pipeline
import dedup.prepare
import dedup.progress
from dedup.cli import app
from dedup.cli.display import RichProgress
from dedup.config import Settings
from dedup.evaluate import sweep_clusters
from dedup.models import Article
from dedup.pipeline import read_and_prepare, run
from dedup.progress import STAGES, Advance, Stages
from dedup.read import read_corpus
from dedup.report import to_json
from dedup.represent.encoder import embed_articles

SAMPLES = Path(__file__).parent.parent / "samples"
ARTICLES = str(SAMPLES / "articles")
N_SAMPLES = 5
runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}
#: The stages of a run of the lexical backend, in order, as they are shown.
LEXICAL_STAGES = ["read", "clean", "lexical profile", "link", "group", "report"]


@dataclasses.dataclass
class Told:
    """One stage as a Progress saw it."""

    name: str
    total: int | None
    advances: list[int] = dataclasses.field(default_factory=list)
    summary: str | None = None

    @property
    def done(self) -> int:
        return sum(self.advances)


class Recorder:
    """A Progress that keeps what it is told, and checks it is told in a sensible order."""

    def __init__(self) -> None:
        self.stages: list[Told] = []
        self.open = False

    def stage(self, name: str, total: int | None) -> None:
        assert not self.open, f"{name} began before {self.stages[-1].name} ended"
        self.stages.append(Told(name, total))
        self.open = True

    def advance(self, n: int) -> None:
        assert self.open and n > 0
        self.stages[-1].advances.append(n)

    def end(self, summary: str) -> None:
        assert self.open
        self.stages[-1].summary = summary
        self.open = False

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def __getitem__(self, name: str) -> Told:
        (found,) = [s for s in self.stages if s.name == name]
        return found


def without_timings(report_json: str) -> dict:  # type: ignore[type-arg]
    doc = json.loads(report_json)
    del doc["run"]["timings"]
    return doc  # type: ignore[no-any-return]


# ------------------------------------------------------------------ what a run tells


def test_a_lexical_run_tells_every_stage_in_order_with_its_totals() -> None:
    recorder = Recorder()
    report = run([ARTICLES], Settings(backend="lexical", cache=None), progress=recorder)
    assert recorder.names == LEXICAL_STAGES
    assert not recorder.open
    assert recorder["read"].total is None  # articles are counted as they are read
    assert recorder["read"].done == N_SAMPLES
    for name in ("clean", "lexical profile", "link"):
        assert recorder[name].total == recorder[name].done == N_SAMPLES, name
    assert recorder["report"].total == recorder["report"].done == len(report.stories) == 3
    assert recorder["clean"].summary == "5 articles"
    assert recorder["link"].summary is not None and re.fullmatch(
        r"5 articles \(\d+ pairs\)", recorder["link"].summary
    )
    assert recorder["group"].summary == "3 stories of 5 articles"
    # The report's timings are the stages' own, under their names as before.
    assert set(report.run.timings) == {"read", "clean", "lexical", "link", "group"}


def test_telling_progress_changes_nothing_in_the_report() -> None:
    settings = Settings(backend="lexical", cache=None, explain=True)
    told = run([ARTICLES], settings, progress=Recorder())
    untold = run([ARTICLES], settings)
    assert without_timings(to_json(told)) == without_timings(to_json(untold))


@pytest.mark.parametrize(
    ("backend", "stages"),
    [
        ("dense", ["read", "clean", "load model", "embed", "link", "group", "report"]),
        (
            "hybrid",
            ["read", "clean", "lexical profile", "load model", "embed", "link", "group", "report"],
        ),
    ],
)
def test_a_model_run_tells_its_stages_and_embeds_batch_by_batch(
    tiny_model_dir: Path, tmp_path: Path, backend: str, stages: list[str]
) -> None:
    settings = Settings(
        backend=backend,  # type: ignore[arg-type]
        model=str(tiny_model_dir),
        device="cpu",
        cache=tmp_path / "cache",
        batch_size=2,
    )
    recorder = Recorder()
    run([ARTICLES], settings, progress=recorder)
    assert recorder.names == stages
    assert recorder["load model"].total is None
    assert recorder["load model"].summary == f"{tiny_model_dir} on cpu"
    embed = recorder["embed"]
    assert embed.total == embed.done == N_SAMPLES
    # Batches of 2 texts: the articles advance as the batches end, not all at once.
    assert len(embed.advances) >= 3
    assert embed.summary == "5 articles"

    # The same corpus again: every vector is in the cache, the model is not even loaded.
    again = Recorder()
    run([ARTICLES], settings, progress=again)
    assert again.names == [s for s in stages if s != "load model"]
    assert again["embed"].done == N_SAMPLES
    assert again["embed"].summary == "5 articles (all from the cache: the model is not loaded)"


def test_a_cache_that_does_not_hold_the_corpus_is_looked_at_quietly(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Before the model loads, the cache is looked at for the whole corpus; when it does not
    hold it, that look shows no stage of its own, and the embed stage is told once."""
    settings = Settings(
        backend="dense", model=str(tiny_model_dir), device="cpu", cache=tmp_path / "cache"
    )
    articles, _ = read_corpus([ARTICLES])
    dedup.pipeline.cluster_articles(articles[:3], settings)  # the model's identity is noted
    recorder = Recorder()
    dedup.pipeline.cluster_articles(articles, settings, progress=recorder)
    assert recorder.names == ["clean", "load model", "embed", "link", "group", "report"]
    assert recorder["embed"].summary == "5 articles (3 from the cache)"


def test_an_article_that_breaks_a_stage_is_counted_and_listed_in_its_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cleaning, the event day and the lexical profile are one pass over each article (the
    clean stage); an article that breaks any of them is a skip, counted there and listed in
    the order the articles were given, whichever step it broke. The lexical stage then weighs
    the articles kept."""
    articles, _ = read_corpus([ARTICLES])
    first, last = articles[0].id, articles[-1].id
    real_clean, real_profile = dedup.prepare.clean_article, dedup.prepare.profile

    def clean(article: Article, **kw: bool) -> Article:
        if article.id == last:
            raise ValueError("cannot clean this one")
        return real_clean(article, **kw)

    def profile(article: Article):  # type: ignore[no-untyped-def]
        if article.id == first:
            raise ValueError("no profile for this one")
        return real_profile(article)

    monkeypatch.setattr(dedup.prepare, "clean_article", clean)
    monkeypatch.setattr(dedup.prepare, "profile", profile)
    recorder = Recorder()
    report = dedup.pipeline.cluster_articles(
        articles, Settings(backend="lexical", cache=None), progress=recorder
    )
    assert recorder["clean"].total == recorder["clean"].done == N_SAMPLES
    assert recorder["clean"].summary == "3 articles (2 skipped)"
    assert recorder["lexical profile"].total == recorder["lexical profile"].done == 3
    assert recorder["lexical profile"].summary == "3 articles"
    assert [s.reason for s in report.skipped] == [
        "the lexical profile failed: ValueError: no profile for this one",
        "cleaning failed: ValueError: cannot clean this one",
    ]
    assert report.articles == 3


def test_a_sweep_is_a_stage_of_its_thresholds() -> None:
    settings = Settings(backend="lexical", cache=None)
    prepared = read_and_prepare([ARTICLES], settings)
    labels = dict(line.split(",") for line in (SAMPLES / "labels.csv").read_text().split()[1:])
    recorder = Recorder()
    rows = sweep_clusters(
        [ARTICLES], settings, labels, [0.2, 0.4, 0.6], prepared=prepared, progress=recorder
    )
    assert len(rows) == 3
    assert recorder.names == ["sweep"]
    assert recorder["sweep"].total == recorder["sweep"].done == 3
    assert recorder["sweep"].summary == "3 thresholds"


# ------------------------------------------------------------------ the stages themselves


def test_a_stage_logs_its_counts_and_seconds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dedup.progress")
    run([ARTICLES], Settings(backend="lexical", cache=None))
    lines = [r.getMessage() for r in caplog.records if r.name == "dedup.progress"]
    assert [line.split(":")[0] for line in lines] == LEXICAL_STAGES
    assert re.fullmatch(r"clean: 5 articles in \d+\.\d+ s", lines[1])
    assert re.fullmatch(r"link: 5 articles in \d+\.\d+ s \(\d+ pairs\)", lines[3])
    assert re.fullmatch(r"group: 3 stories of 5 articles in \d+\.\d+ s", lines[4])


def test_a_quiet_stage_is_timed_and_shows_itself_only_once_it_does_something(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="dedup.progress")
    recorder = Recorder()
    stages = Stages(recorder)
    with stages.stage("embed", 4, quiet_until_done=True):
        pass
    assert recorder.names == [] and not caplog.records
    assert "embed" in stages.timings
    with stages.stage("embed", 4, quiet_until_done=True) as step:
        step.advance(4)
    assert recorder.names == ["embed"] and recorder["embed"].done == 4
    assert len(caplog.records) == 1


def test_a_stage_that_fails_is_timed_but_not_ended() -> None:
    recorder = Recorder()
    stages = Stages(recorder)
    with pytest.raises(RuntimeError), stages.stage("clean", 3) as step:
        step.advance()
        raise RuntimeError("broken")
    assert "clean" in stages.timings
    assert recorder.open and recorder["clean"].summary is None


def test_each_stage_gives_the_heaps_freed_pages_back_as_it_ends_failed_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given_back: list[bool] = []
    monkeypatch.setattr(dedup.progress, "give_back_freed_memory", lambda: given_back.append(True))
    stages = Stages()
    with stages.stage("read"):
        assert given_back == []
    assert len(given_back) == 1
    with pytest.raises(RuntimeError), stages.stage("clean"):
        raise RuntimeError("broken")
    assert len(given_back) == 2
    monkeypatch.undo()
    run([ARTICLES], Settings(backend="lexical", cache=None))  # glibc's own, for real


def test_every_stage_has_a_name_to_show() -> None:
    assert list(STAGES) == [
        "read",
        "clean",
        "lexical",
        "load_model",
        "embed",
        "map",
        "link",
        "group",
        "report",
        "sweep",
        "write",
        "store",
        "tune",
        "calibrate",
    ]
    with pytest.raises(KeyError), Stages().stage("no such stage"):
        pass


# ------------------------------------------------------------------ encoders


class BatchingEncoder:
    """A fake encoder that reports its batches, as the sentence-transformers one does."""

    name, dim, max_tokens = "batching", 4, 512

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Advance | None = None
    ) -> NDArray[np.float32]:
        for start in range(0, len(texts), batch_size):
            if progress is not None:
                progress(min(batch_size, len(texts) - start))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def _articles(n: int) -> list[Article]:
    return [Article(id=f"a{k}", title=f"Title {k}", text=f"Body number {k}.") for k in range(n)]


def test_embedding_tells_articles_batch_by_batch_and_all_of_them() -> None:
    told: list[int] = []
    embed_articles(BatchingEncoder(), _articles(7), batch_size=2, progress=told.append)
    assert told == [2, 2, 2, 1]
    assert sum(told) == 7


def test_an_encoder_that_tells_nothing_still_ends_with_every_article(
    fake_encoder: object,
) -> None:
    told: list[int] = []
    embed_articles(fake_encoder, _articles(5), progress=told.append)  # type: ignore[arg-type]
    assert told == [5]


def test_the_sentence_transformers_encoder_tells_its_batches_and_draws_no_bar(
    tiny_encoder: object, capfd: pytest.CaptureFixture[str]
) -> None:
    texts = [f"text number {k} " * (k + 1) for k in range(7)]
    told: list[int] = []
    with_progress = tiny_encoder.encode(texts, batch_size=3, progress=told.append)  # type: ignore[attr-defined]
    without = tiny_encoder.encode(texts, batch_size=3)  # type: ignore[attr-defined]
    assert told == [3, 3, 1]
    np.testing.assert_array_equal(with_progress, without)
    captured = capfd.readouterr()
    assert "Batches" not in captured.err and "it/s" not in captured.err


# ------------------------------------------------------------------ the command line


def test_the_rich_display_draws_a_line_per_stage() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    with RichProgress(console) as display:
        run([ARTICLES], Settings(backend="lexical", cache=None), progress=display)
    drawn = buffer.getvalue()
    for label in LEXICAL_STAGES:
        assert label in drawn, label
    assert "3 stories of 5 articles" in drawn


def test_nothing_of_the_display_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cluster", ARTICLES, "--backend", "lexical"], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["cluster", ARTICLES, "--backend", "lexical", "--out", str(out)], env=ENV
    )
    assert result.exit_code == 0
    assert result.stderr.startswith("Wrote ") and result.stderr.count("\n") == 1


def test_quiet_leaves_out_notes_and_qq_warnings_too(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in Path(ARTICLES).iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "empty.txt").write_text("")
    out = tmp_path / "out"
    args = ["cluster", str(corpus), "--backend", "lexical", "--out", str(out)]
    loud = runner.invoke(app, args, env=ENV)
    quiet = runner.invoke(app, [*args, "-q"], env=ENV)
    quieter = runner.invoke(app, [*args, "-qq"], env=ENV)
    assert loud.exit_code == quiet.exit_code == quieter.exit_code == 0
    assert "Warning: skipped 1 input(s)" in loud.stderr and "Wrote " in loud.stderr
    assert quiet.stderr.startswith("Warning: skipped 1 input(s)") and "Wrote" not in quiet.stderr
    assert quieter.stderr == ""
    assert loud.stdout == quiet.stdout == quieter.stdout  # the report itself is never quieter
    assert (out / "report.json").is_file()


def test_quiet_and_verbose_together_are_a_usage_error() -> None:
    result = runner.invoke(app, ["cluster", ARTICLES, "-q", "-v"], env=ENV)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "-q" in result.stderr


def _dedup(*args: str, stderr: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dedup", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **ENV},
    )


def test_minus_v_logs_one_line_per_stage_with_its_counts(tmp_path: Path) -> None:
    process = _dedup("cluster", ARTICLES, "--backend", "lexical", "-v", "--out", str(tmp_path))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0
    lines = [
        line.split("dedup.progress: ", 1)[1]
        for line in err.decode().splitlines()
        if line.startswith("INFO dedup.progress: ")
    ]
    assert [line.split(":")[0] for line in lines] == [*LEXICAL_STAGES, "write"]
    counted = r"[a-z ]+: [\d,]+ [a-z]+( of [\d,]+ articles)? in \d+\.\d+ s( \(.+\))?"
    assert all(re.fullmatch(counted, line) for line in lines), lines
    assert lines[-1].startswith("write: 4 files in ")
    assert "\x1b" not in err.decode()  # not a terminal: no display


def _on_a_terminal(*args: str) -> tuple[bytes, bytes]:
    """Run dedup with stderr on a pseudo-terminal; what stdout and the terminal got."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    process = _dedup(*args, stderr=slave)
    os.close(slave)
    terminal = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            terminal += chunk
        elif process.poll() is not None:
            break
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait(timeout=300)
    os.close(master)
    assert process.returncode == 0, terminal
    return out, terminal


def test_on_a_terminal_the_stages_are_drawn_on_stderr_and_quiet_draws_nothing() -> None:
    args = ("cluster", ARTICLES, "--backend", "lexical", "--no-cache")
    out, terminal = _on_a_terminal(*args)
    drawn = terminal.decode("utf-8", "replace")
    for label in LEXICAL_STAGES:
        assert label in drawn, label
    assert "3 stories of 5 articles" in drawn
    assert b"\x1b" not in out and b"clean" not in out  # stdout holds the report alone
    quiet_out, quiet_terminal = _on_a_terminal(*args, "-q")
    assert quiet_terminal == b""
    assert quiet_out == out
