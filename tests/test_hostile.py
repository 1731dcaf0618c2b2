"""Hostile input, round two: scripts without spaces, one article that breaks a stage, lone
surrogates, absurd option values. Each has a defined outcome and no run is lost.

docs/reliability.md lists these inputs and their outcomes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reliability import synthetic_corpus
from typer.testing import CliRunner

from dedup import pipeline, prepare, progress
from dedup.cli import app
from dedup.config import Settings
from dedup.models import Article
from dedup.pipeline import cluster_articles
from dedup.report.document import to_dict

runner = CliRunner()
ENV = {"COLUMNS": "100", "HF_HUB_OFFLINE": "1"}

# One article in each script, two of them telling one story (Chinese and Japanese).
SCRIPTS = {
    "zh-hant": "搭載俄羅斯與美國太空人的聯盟MS-22發射升空，並與國際太空站完成對接。",
    "zh-hans": "搭载俄罗斯与美国宇航员的联盟MS-22号飞船发射升空，并与国际空间站完成对接。",
    "ja": "ロシアとアメリカの宇宙飛行士を乗せたソユーズMS-22が打ち上げられ、"
    "国際宇宙ステーションにドッキングした。",
    "ko": "러시아와 미국 우주비행사를 태운 소유스 MS-22호가 발사되어 국제우주정거장에 도킹했다.",
    "th": "ยานโซยุซ MS-22 ที่บรรทุกนักบินอวกาศรัสเซียและอเมริกันได้ขึ้นสู่อวกาศแล้ว",
    "km": "យានអវកាស Soyuz MS-22 បានបាញ់បង្ហោះទៅកាន់ស្ថានីយអវកាសអន្តរជាតិ",
    "lo": "ຍານອະວະກາດ Soyuz MS-22 ໄດ້ຖືກປ່ອຍຂຶ້ນສູ່ສະຖານີອະວະກາດສາກົນ",
    "my": "Soyuz MS-22 အာကာသယာဉ်သည် နိုင်ငံတကာ အာကာသစခန်းသို့ ပျံသန်းခဲ့သည်",
    "ar": "انطلقت المركبة سويوز إم إس-22 وعلى متنها رواد فضاء روس وأمريكيون.",
    "he": "החללית סויוז MS-22 שוגרה עם אסטרונאוטים רוסים ואמריקאים לתחנת החלל.",
    "hi": "रूसी और अमेरिकी अंतरिक्ष यात्रियों को लेकर सोयुज एमएस-22 का प्रक्षेपण हुआ।",
    "ru": "Корабль «Союз МС-22» с российскими и американским космонавтами стартовал к МКС.",
    "el": "Το Soyuz MS-22 εκτοξεύτηκε με Ρώσους και Αμερικανούς αστροναύτες προς τον ΔΔΣ.",
    "ka": "კოსმოსური ხომალდი სოიუზ MS-22 საერთაშორისო კოსმოსურ სადგურს მიუერთდა.",
    "hy": "Սոյուզ MS-22 տիեզերանավը մեկնարկեց դեպի Միջազգային տիեզերական կայան։",
}


def jsonl(records: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def invoke(*args: str, stdin: str | None = None) -> object:
    return runner.invoke(app, list(args), input=stdin, env=ENV)


def test_every_script_runs_to_a_report_without_optional_tokenizers() -> None:
    """Chinese and Japanese once ended the run (wordfreq asked for jieba and MeCab)."""
    records = [{"id": k, "title": "", "text": v} for k, v in SCRIPTS.items()]
    result = runner.invoke(
        app, ["cluster", "-", "--backend", "lexical", "--json"], input=jsonl(records), env=ENV
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["skipped"] == []
    ids = sorted(m["id"] for s in doc["stories"] for m in s["members"])
    assert ids == sorted(SCRIPTS)


@pytest.fixture(params=["one process", "a pool"])
def workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The per-article stages run in this process, or in a pool of two processes a part of
    one article at a time (as a big corpus does), whatever the size of the test's corpus."""
    if request.param == "a pool":
        monkeypatch.setattr(prepare, "_workers", lambda n: 2)
        monkeypatch.setattr(prepare, "PART", 1)
    return str(request.param)


def test_an_article_that_breaks_a_stage_is_skipped_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    real_profile = prepare.profile
    real_clean = prepare.clean_article

    def profile(article: Article) -> object:
        if article.id == "b2":
            raise RuntimeError("boom in the profile")
        return real_profile(article)

    def clean(article: Article) -> Article:
        if article.id == "c3":
            raise ValueError("boom in cleaning")
        return real_clean(article)

    monkeypatch.setattr(prepare, "profile", profile)
    monkeypatch.setattr(prepare, "clean_article", clean)
    text = "Storm Kirk flooded the harbour of Lisbon on Tuesday; 1,200 homes lost power."
    articles = [
        Article(id=i, title="Storm Kirk floods Lisbon", text=text, origin=f"feed:{n}")
        for n, i in enumerate(["a1", "b2", "c3", "d4"], start=1)
    ]
    report = cluster_articles(articles, Settings(backend="lexical"))
    assert [m.article.id for s in report.stories for m in s.members] == ["a1", "d4"]
    assert [(s.origin, s.reason) for s in report.skipped] == [
        ("feed:2", "the lexical profile failed: RuntimeError: boom in the profile"),
        ("feed:3", "cleaning failed: ValueError: boom in cleaning"),
    ]


def test_lone_surrogates_in_title_text_and_id_do_not_end_the_run() -> None:
    records = [
        {"id": "half-\udc80", "title": "Emoji cut in half \ud83d", "text": "Storm Kirk \udc80 hit"},
        {"id": "whole", "title": "Storm Kirk", "text": "Storm Kirk hit Lisbon on Tuesday."},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in records)  # \\udc80 escapes, as JSON allows
    result = runner.invoke(
        app, ["cluster", "-", "--backend", "lexical", "--json"], input=stdin, env=ENV
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ids = sorted(m["id"] for s in doc["stories"] for m in s["members"])
    assert ids == ["half-\ufffd", "whole"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-bytes", "30000000000"], None),
        (["--max-bytes", "9223372036854775807"], None),
        (["--window-days", "99999999999999999999"], None),
        (["--window-days", "9223372036854775807"], None),
    ],
)
def test_absurd_limits_are_no_limit_not_a_crash(
    tmp_path: Path, args: list[str], message: str | None
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        jsonl(
            [
                {
                    "id": str(k),
                    "title": "Storm Kirk",
                    "text": "Storm Kirk hit Lisbon.",
                    "published": "2024-10-0" + str(k + 1),
                }
                for k in range(3)
            ]
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["cluster", str(corpus), "--backend", "lexical", "--json", *args], env=ENV
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [len(s["members"]) for s in doc["stories"]] == [3]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.text(
            alphabet=st.sampled_from("".join(SCRIPTS.values()) + " .,-0123456789\n\u200b\ufeff"),
            min_size=0,
            max_size=120,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_mix_of_scripts_ends_in_the_report_or_in_skipped(texts: list[str]) -> None:
    articles = [
        Article(id=f"a{k}", title=text[:20], text=text, origin=f"gen:{k}")
        for k, text in enumerate(texts)
    ]
    try:
        report = cluster_articles(articles, Settings(backend="lexical"))
    except Exception as exc:  # only "nothing usable" may end the run
        assert type(exc).__name__ == "InputError" and "no usable article" in str(exc)
        return
    seen = {m.article.id for s in report.stories for m in s.members}
    lost = {a.id for a in articles} - seen
    assert {f"gen:{a[1:]}" for a in lost} == {s.origin for s in report.skipped}


def test_a_rerun_into_an_out_dir_under_the_inputs_reads_no_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(Path(__file__).parent.parent / "samples" / "articles", corpus)
    args = ["cluster", str(corpus), "--backend", "lexical", "--json"]
    args += ["--out", str(corpus / "report"), "--html", str(corpus / "page.html")]
    first, again = (runner.invoke(app, args, env=ENV) for _ in range(2))
    assert first.exit_code == again.exit_code == 0, (first.stderr, again.stderr)
    first_doc, again_doc = json.loads(first.stdout), json.loads(again.stdout)
    assert again_doc["summary"]["articles"] == first_doc["summary"]["articles"] == 5
    assert again_doc["stories"] == first_doc["stories"] and again_doc["skipped"] == []


def test_html_naming_an_input_article_is_refused_before_any_work(tmp_path: Path) -> None:
    page = tmp_path / "article.html"
    original = (
        "<html><head><title>Storm Kirk</title></head><body><p>Storm Kirk hit.</p></body></html>"
    )
    page.write_text(original, encoding="utf-8")
    result = runner.invoke(
        app, ["cluster", str(tmp_path), "--backend", "lexical", "--html", str(page)], env=ENV
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --html {page} is an input article ({tmp_path}): name another file for the report\n"
    )
    assert page.read_text(encoding="utf-8") == original


def test_every_page_carries_the_mark_that_tells_it_from_an_article() -> None:
    from dedup.pipeline import run
    from dedup.read.own import HEAD_BYTES, own_file
    from dedup.report.html import to_html

    samples = str(Path(__file__).parent.parent / "samples" / "articles")
    page = to_html(run([samples], Settings(backend="lexical")))
    assert own_file(page.encode("utf-8")[:HEAD_BYTES]) == "html"


def test_a_cache_dir_under_an_unknown_user_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEDUP_CACHE_DIR", "~nosuchuser-for-dedup/x")
    samples = str(Path(__file__).parent.parent / "samples" / "articles")
    result = runner.invoke(app, ["cluster", samples, "--backend", "lexical"], env=ENV)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: DEDUP_CACHE_DIR='~nosuchuser-for-dedup/x': ")
    assert result.stderr.count("\n") == 1


def test_a_model_name_too_long_for_a_path_is_not_a_crash(tmp_path: Path) -> None:
    from dedup.errors import ModelError
    from dedup.represent.model_files import local_model_identity
    from dedup.represent.transformer import load_encoder

    name = "a" * 5000
    assert local_model_identity(name, device="cpu", fast=False) is None
    with pytest.raises(ModelError, match="not a model directory nor a valid Hugging Face"):
        load_encoder(name, device="cpu")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nan:nan:nan", "START, STOP and STEP must be numbers"),
        ("0:inf:0.1", "START, STOP and STEP must be numbers"),
        ("0:1:1e-8", "100,000,001 thresholds; at most 10,001 (use a larger STEP)"),
    ],
)
def test_sweep_ranges_that_are_not_numbers_or_too_fine_are_usage_errors(
    spec: str, message: str
) -> None:
    pairs = str(
        Path(__file__).parent.parent.parent / "shared" / "eval" / "semeval2022_pairs_dev.jsonl"
    )
    result = runner.invoke(
        app,
        ["evaluate", "pairs", pairs, "--backend", "lexical", "--sweep", "--range", spec],
        env=ENV,
    )
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.startswith("Error: ")


def test_minus_v_shows_the_traceback_of_an_internal_error() -> None:
    """A real process (logging set up as a user gets it), with a bug put into the pipeline."""

    samples = str(Path(__file__).parent.parent / "samples" / "articles")
    code = (
        "import sys, dedup.cli as cli, dedup.pipeline as pipeline\n"
        "def broken(*args, **kwargs):\n    raise ZeroDivisionError('a bug')\n"
        "pipeline.run = broken\n"
        "sys.argv = ['dedup', *sys.argv[1:]]\n"
        "cli.main()\n"
    )
    runs = {
        flag: subprocess.run(
            [sys.executable, "-c", code, "cluster", samples, *flag],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for flag in ((), ("-v",))
    }
    line = "Error: internal error: ZeroDivisionError: a bug (run with -v for details)\n"
    assert runs[()].returncode == runs[("-v",)].returncode == 1
    assert runs[()].stderr == line
    assert "Traceback" in runs[("-v",)].stderr and runs[("-v",)].stderr.endswith(line)


def _dedup(*args: str, **popen: object) -> subprocess.CompletedProcess[str]:

    return subprocess.run(
        [sys.executable, "-m", "dedup", *args],
        text=True,
        timeout=300,
        env={**os.environ, **ENV},
        **popen,  # type: ignore[call-overload]
    )


SAMPLES_DIR = str(Path(__file__).parent.parent / "samples" / "articles")


def test_a_full_stdout_is_a_one_line_output_error() -> None:
    with open("/dev/full", "w") as full:
        done = _dedup(
            "cluster", SAMPLES_DIR, "--backend", "lexical", "--json", stdout=full, stderr=-1
        )
    assert done.returncode == 1
    assert done.stderr == "Error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("json_out", [[], ["--json"]])
def test_a_closed_stdout_is_an_output_error_not_a_silent_success(json_out: list[str]) -> None:

    done = _dedup(
        "cluster",
        SAMPLES_DIR,
        "--backend",
        "lexical",
        *json_out,
        stderr=-1,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 1
    assert done.stderr == "Error: cannot write the report: standard output is closed\n"


def test_a_reader_that_went_away_ends_the_run_quietly() -> None:

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        done = _dedup(
            "cluster", SAMPLES_DIR, "--backend", "lexical", "--json", stdout=write_end, stderr=-1
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


def test_a_closed_stdin_for_minus_is_a_one_line_input_error() -> None:

    done = _dedup(
        "cluster", "-", "--backend", "lexical", stdout=-1, stderr=-1, preexec_fn=lambda: os.close(0)
    )
    assert done.returncode == 2
    assert done.stderr == "Error: cannot read - : standard input is closed\n"


@pytest.mark.parametrize("quiet", [False, True])
def test_minus_on_a_terminal_says_it_reads_standard_input_and_how_to_end_it(quiet: bool) -> None:
    """Standard input a terminal (a pty): one line on stderr before it waits, unless -q; what
    is typed then ends with Ctrl-D and is grouped."""
    import pty

    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "dedup", "cluster", "-", "-b", "lexical", "--json"]
            + ["-q"] * quiet,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **ENV},
        )
        os.close(terminal)
        article = {"id": "a", "title": "Storm Kirk floods Lisbon", "text": "Storm Kirk flooded."}
        os.write(main, json.dumps(article).encode() + b"\n\x04")  # Ctrl-D: end of input
        out, err = process.communicate(timeout=60)
    finally:
        os.close(main)
    assert process.returncode == 0, err
    said = "Reading JSONL from standard input; end it with Ctrl-D.\n"
    assert err.decode() == ("" if quiet else said)
    assert [m["id"] for s in json.loads(out)["stories"] for m in s["members"]] == ["a"]


def test_file_names_with_foreign_bytes_or_terminal_escapes_are_shown_safely(
    tmp_path: Path,
) -> None:
    corpus = os.fsencode(tmp_path)
    text = b"Storm Kirk floods Lisbon\n\nStorm Kirk flooded the harbour of Lisbon on Tuesday.\n"
    for name in (b"caf\xe9.txt", b"\x1b[31mred\x1b[0m.txt"):
        with open(os.path.join(corpus, name), "wb") as handle:
            handle.write(text)
    result = runner.invoke(
        app, ["cluster", str(tmp_path), "--backend", "lexical", "--json"], env=ENV
    )
    assert result.exit_code == 0, result.stderr
    result.stdout_bytes.decode("utf-8")  # valid UTF-8 throughout
    assert "\x1b" not in result.stdout
    ids = sorted(m["id"] for s in json.loads(result.stdout)["stories"] for m in s["members"])
    assert ids == ["\\x1b[31mred\\x1b[0m.txt", "caf\ufffd.txt"]
    table = runner.invoke(app, ["cluster", str(tmp_path), "--backend", "lexical"], env=ENV)
    assert "\x1b" not in table.stdout


def test_only_web_links_become_links_in_markdown(tmp_path: Path) -> None:
    records = [
        {
            "id": "a",
            "title": "Storm Kirk",
            "text": "Storm Kirk hit Lisbon.",
            "url": "javascript:alert(1)",
        },
        {
            "id": "b",
            "title": "Storm Kirk",
            "text": "Storm Kirk hit Lisbon harbour.",
            "url": "https://example.org/kirk",
        },
    ]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(jsonl(records), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["cluster", str(corpus), "--backend", "lexical", "--out", str(out)], env=ENV
    )
    assert result.exit_code == 0, result.stderr
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "javascript:" not in markdown
    assert "(<https://example.org/kirk>)" in markdown


def test_good_articles_in_awkward_shapes_are_read(tmp_path: Path) -> None:
    from dedup.read import read_corpus

    story = "Storm Kirk floods Lisbon\n\nStorm Kirk flooded the harbour of Lisbon on Tuesday.\n"
    (tmp_path / "cut16.txt").write_bytes((story * 3).encode("utf-16-le")[:-1])
    wrapped = [
        {"id": "w1", "title": "Kirk", "text": "Kirk hit Lisbon."},
        {"id": "w2", "title": "Kirk", "text": "Kirk hit Porto."},
    ]
    (tmp_path / "wrap.json").write_text(
        json.dumps({"articles": wrapped, "tags": ["storm", "portugal"], "count": 2}),
        encoding="utf-8",
    )
    (tmp_path / "nested.json").write_text(
        json.dumps(
            {"data": {"articles": [{"id": "v1", "title": "Kirk", "text": "Kirk hit Faro."}]}}
        ),
        encoding="utf-8",
    )
    (tmp_path / "twice.csv").write_text(
        "id,text,title,text\nc1,,Kirk,Kirk hit Braga.\n", encoding="utf-8"
    )
    articles, skipped = read_corpus([str(tmp_path)])
    assert skipped == []
    texts = {a.id: a.text for a in articles}
    assert texts["cut16.txt"].startswith("Storm Kirk flooded the harbour of Lisbon")
    assert (texts["w1"], texts["w2"], texts["v1"]) == (
        "Kirk hit Lisbon.",
        "Kirk hit Porto.",
        "Kirk hit Faro.",
    )
    assert texts["c1"] == "Kirk hit Braga."


@pytest.mark.parametrize(
    ("name", "head", "mark"),
    [
        ("control-reference", "", "&#x1;"),
        ("non-character-reference", "", "&#xFFFE;"),
        ("literal-control", "", "\x01"),
        ("huge-inline-script", "<script>var x='" + "a" * 11_000_000 + "';</script>", ""),
    ],
)
def test_pages_the_parser_used_to_drop_are_read(
    tmp_path: Path, name: str, head: str, mark: str
) -> None:
    from dedup.read import read_corpus

    sentence = "Storm Kirk flooded the harbour of Lisbon on Tuesday, and the port closed. "
    page = (
        f"<html><head><title>Storm Kirk floods Lisbon</title>{head}</head><body><article>"
        f"<h1>Storm Kirk floods Lisbon</h1><p>{(sentence * 6).replace('Tuesday', 'Tuesday' + mark)}"
        "</p></article></body></html>"
    )
    (tmp_path / f"{name}.html").write_text(page, encoding="utf-8")
    articles, skipped = read_corpus([str(tmp_path)], max_bytes=50 * 1024 * 1024)
    assert skipped == []
    (article,) = articles
    assert article.title == "Storm Kirk floods Lisbon"
    assert "harbour of Lisbon" in article.text and "aaaa" not in article.text


def test_a_file_beyond_path_max_is_a_recorded_skip_not_a_silent_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dedup.read import read_corpus

    (tmp_path / "near.txt").write_text("Storm Kirk\n\nStorm Kirk hit Porto.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for _ in range(22):  # 22 x 201 characters: past Linux's PATH_MAX of 4,096
        os.mkdir("d" * 200)
        os.chdir("d" * 200)
    Path("far.txt").write_text("Storm Kirk\n\nStorm Kirk hit Lisbon.\n", encoding="utf-8")
    articles, skipped = read_corpus([str(tmp_path)])
    assert [a.id for a in articles] == ["near.txt"]
    (skip,) = skipped
    assert skip.origin.startswith(str(tmp_path / ("d" * 200)))
    assert skip.reason == "cannot read file: File name too long"


def _wire_corpus(copies: int) -> list[Article]:
    """Four events; one wire text run by ``copies`` outlets, rewrites and others once."""
    texts = {
        "kirk": "Storm Kirk flooded the harbour of Lisbon on Tuesday; 1,200 homes lost power.",
        "kirk-rewrite": "Lisbon harbour flooded by Storm Kirk on Tuesday, 1,200 homes dark.",
        "soyuz": "Soyuz MS-22 docked with the International Space Station on Wednesday.",
        "soyuz-rewrite": "The International Space Station received Soyuz MS-22 on Wednesday.",
        "vote": "The Bundestag voted on the vaccine mandate on Thursday after a long debate.",
        "fares": "Taipei raises bus fares from January, the city government said on Friday.",
    }
    articles = [Article(id=f"{k}", title=k.split("-")[0].title(), text=t) for k, t in texts.items()]
    wire = texts["kirk"]
    articles += [Article(id=f"copy{n}", title="Kirk", text=wire) for n in range(copies)]
    return articles


def test_exact_copies_are_one_text_language_and_dates() -> None:
    """A copy is the same title and text read as one (however they split it), the same
    language and the same dates; anything else, a lone surrogate too, is an article of its
    own."""
    import datetime as dt

    day = dt.date(2024, 5, 1)
    articles = [
        Article(id="a", title="Flood", text="Rivers\n\nrose.\ud800", lang="en", published=day),
        Article(id="b", title="Flood", text="Rivers\n\nrose.\ud800", lang="en", published=day),
        Article(id="c", title="Flood", text="Rivers\n\nrose.\ud800", lang="de", published=day),
        Article(id="d", title="Flood", text="Rivers\n\nrose.\ud800", lang="en"),
        Article(id="e", title="Flood\n\nRivers", text="rose.\ud800", lang="en", published=day),
        Article(id="f", title="Flood", text="Rivers\n\nrose.\udc00", lang="en", published=day),
        Article(id="g", title="", text="Flood", lang="en"),
        Article(id="h", title="Flood", text="", lang="en"),
    ]
    assert prepare.copy_of(articles).tolist() == [0, 0, 2, 3, 0, 5, 6, 6]


def test_exact_copies_are_grouped_as_if_each_were_linked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies linked once by their first give the stories that linking every copy gives: the
    linkage weighs each first copy by its copies."""
    articles = _wire_corpus(12)
    settings = Settings(backend="lexical")

    def stories(report: object) -> list[list[str]]:
        return sorted(sorted(m.article.id for m in s.members) for s in report.stories)  # type: ignore[attr-defined]

    collapsed = cluster_articles(articles, settings)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "copy_of", lambda arts: np.arange(len(arts)))
        every = cluster_articles(articles, settings)
    assert stories(collapsed) == stories(every)
    # The same up to float32 rounding: the copies' figures are summed in float64.
    for ours, theirs in zip(collapsed.stories, every.stories, strict=True):
        assert ours.cohesion_mean == pytest.approx(theirs.cohesion_mean, abs=1e-6)
        assert ours.cohesion_min == pytest.approx(theirs.cohesion_min, abs=1e-6)
        assert [m.similarity for m in ours.members] == [m.similarity for m in theirs.members]


def test_a_story_of_thousands_of_copies_is_linked_as_one_article(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    real = pipeline.find_links

    def spy(reps: object, *args: object, among: object = None, **kwargs: object) -> object:
        seen.append(len(among) if among is not None else reps.n)  # type: ignore[arg-type,attr-defined]
        return real(reps, *args, among=among, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "find_links", spy)
    report = cluster_articles(_wire_corpus(5000), Settings(backend="lexical"))
    assert seen == [6]  # the six distinct texts
    biggest = report.stories[0]
    assert biggest.size >= 5001
    assert biggest.similarities is not None and len(biggest.similarities) == 30


def test_a_word_every_title_starts_with_links_no_stories() -> None:
    """50 unrelated articles of no known language whose titles all start "Headline" made 16
    stories, joined by that one capitalised word (a name to the profile)."""
    import random

    rng = random.Random(1)

    def word() -> str:
        return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))

    articles = []
    for k in range(50):
        words = [word() for _ in range(40)]
        articles.append(
            Article(id=f"h{k}", title="Headline " + " ".join(words[:5]), text=" ".join(words))
        )
    report = cluster_articles(articles, Settings(backend="lexical"))
    assert [s.size for s in report.stories] == [1] * 50


def test_a_tag_with_100000_attributes_keeps_its_page(tmp_path: Path) -> None:
    """The parser took 115 s over such a tag; its attributes are dropped before parsing."""
    from dedup.read import read_corpus
    from dedup.read.formats import _parseable

    attributes = " ".join(f'data-a{k}="v{k}"' for k in range(100_000))
    sentence = "Storm Kirk flooded the harbour of Lisbon on Tuesday, and the port closed. "
    page = (
        "<html><head><title>Storm Kirk floods Lisbon</title></head><body><article>"
        f"<h1 {attributes}>Storm Kirk floods Lisbon</h1><p>{sentence * 6}</p>"
        "</article></body></html>"
    )
    assert "data-a" not in _parseable(page) and "<h1>Storm Kirk floods Lisbon</h1>" in _parseable(
        page
    )
    (tmp_path / "tag.html").write_text(page, encoding="utf-8")
    (article,), skipped = read_corpus([str(tmp_path)])
    assert skipped == [] and "harbour of Lisbon" in article.text


@pytest.mark.parametrize("depth", [250, 255, 400])
def test_an_article_nested_deeper_than_the_parser_likes_is_read(tmp_path: Path, depth: int) -> None:
    from dedup.read import read_corpus

    sentence = "Storm Kirk flooded the harbour of Lisbon on Tuesday, and the port closed. "
    page = (
        "<html><head><title>Storm Kirk floods Lisbon</title></head><body>"
        + "<div>" * depth
        + f"<article><h1>Storm Kirk floods Lisbon</h1><p>{sentence * 6}</p></article>"
        + "</div>" * depth
        + "</body></html>"
    )
    (tmp_path / "deep.html").write_text(page, encoding="utf-8")
    (article,), skipped = read_corpus([str(tmp_path)])
    assert skipped == [] and "harbour of Lisbon" in article.text


def test_a_pool_gives_the_same_report_as_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cleaning and profiling a big corpus in parts on every core changes nothing: the parts'
    counts stacked and weighed at once are the vectors of the whole."""
    records = synthetic_corpus(40)
    articles = [
        Article(id=r["id"], title=r["title"], text=r["text"], origin=f"feed:{k}")
        for k, r in enumerate(records)
    ]
    lexical = Settings(backend="lexical", cache=None)
    alone = to_dict(cluster_articles(articles, lexical))
    monkeypatch.setattr(prepare, "_workers", lambda n: 2)
    monkeypatch.setattr(prepare, "PART", 37)
    pooled = to_dict(cluster_articles(articles, lexical))
    for doc in (alone, pooled):
        doc["run"].pop("timings")
    assert pooled == alone and len(pooled["stories"]) > 1


_READ: list[bool] = []  # set in the test's process once its corpus is read
_REAL_PART = prepare.prepare_part


def _part_noting_its_process(part: object, *args: object, **kwargs: object) -> object:
    """The per-article part, its process noted with whether it had seen the corpus read."""
    (Path(os.environ["DEDUP_TEST_PIDS"]) / f"{os.getpid()}-{bool(_READ)}").touch()
    return _REAL_PART(part, *args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(
    not hasattr(os, "fork"), reason="workers are forked only where the system forks"
)
def test_the_workers_of_a_run_that_reads_files_are_forked_before_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker forked after the corpus is read holds every page of it as read for as long as
    it lives; forked before, it holds none, and each article is freed once cleaned."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in synthetic_corpus(12)), "utf-8")
    noted = tmp_path / "pids"
    noted.mkdir()
    monkeypatch.setenv("DEDUP_TEST_PIDS", str(noted))
    monkeypatch.setattr(prepare, "_workers", lambda n: 2)
    monkeypatch.setattr(prepare, "PART", 7)
    monkeypatch.setattr(prepare, "prepare_part", _part_noting_its_process)
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 2)
    real_read = pipeline.read_stage

    def read_stage(*args: object, **kwargs: object) -> object:
        read = real_read(*args, **kwargs)  # type: ignore[arg-type]
        _READ.append(True)
        return read

    monkeypatch.setattr(pipeline, "read_stage", read_stage)
    try:
        prepared = pipeline.read_and_prepare([str(corpus)], Settings(backend="lexical"))
    finally:
        _READ.clear()
    assert len(prepared.articles) == 60
    seen = [name.split("-") for name in os.listdir(noted)]
    assert seen and all(read == "False" for _, read in seen)
    assert str(os.getpid()) not in {pid for pid, _ in seen}


@pytest.mark.parametrize("error", [OSError, AttributeError, TypeError])
def test_a_c_library_without_malloc_trim_is_no_error(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """When a stage ends, the heap's freed pages are given back through glibc's malloc_trim;
    where there is no such call (macOS, musl, Windows), nothing happens, and a run goes on."""

    def no_glibc(name: object) -> object:
        raise error("no such library or symbol")

    monkeypatch.setattr(progress.ctypes, "CDLL", no_glibc)
    progress.give_back_freed_memory()  # no error
    report = cluster_articles(
        [Article(id="a", title="Storm Kirk", text="Storm Kirk hit Lisbon on Tuesday.")],
        Settings(backend="lexical"),
    )
    assert report.articles == 1
