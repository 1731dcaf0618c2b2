"""The HTML report's Python side: one offline file, data that cannot break out of its script
element, a CSP that pins the page's script, heatmaps from the pipeline, determinism."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dedup.config import Settings
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.pipeline import cluster_articles
from dedup.read import read_corpus
from dedup.report import html
from dedup.report.html import HEATMAP_MAX, page_data, script_json, to_html
from dedup.report.view import select

SAMPLES = Path(__file__).parent.parent / "samples" / "articles"
HOSTILE = '</script><script>alert(1)</script><img src=x onerror="alert(2)"><!--'


class _Page(HTMLParser):
    """Tags with their attributes, and the text of every script element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _article(id: str, title: str, lang: str, day: int | None, **extra: str) -> Article:
    return Article(
        id=id,
        title=title,
        text="Body text.",
        source=extra.get("source", f"{id}.example"),
        url=extra.get("url"),
        lang=lang,
        published=dt.date(2024, 9, day) if day else None,
        origin=f"corpus/{id}.txt",
    )


def make_report(title: str = "Flood hits Hanoi") -> Report:
    a1 = _article("a1", title, "en", 22, url="https://example.com/a1")
    a2 = _article("a2", "Lũ lụt ở Hà Nội", "vi", 23)
    a3 = _article("a3", "Storm warning", "en", None)
    s1 = Story(
        "S1",
        (Member(a1, 1.0), Member(a2, 0.8)),
        cohesion_min=0.8,
        cohesion_mean=0.8,
        similarities=((1.0, 0.8), (0.8, 1.0)),
    )
    s2 = Story("S2", (Member(a3, 1.0),), None, None, similarities=((1.0,),))
    run = RunInfo("0.1.0", "lexical", None, 0.15, 0.07, ("corpus",))
    return Report((s1, s2), (Related("S1", "S2", 0.1),), (Skipped("corpus/x", "empty"),), run)


def data_of(page: str) -> object:
    (text,) = [t for attrs, t in parse(page).scripts if attrs.get("id") == "data"]
    return json.loads(text)


def test_the_page_is_one_file_that_names_no_network_resource() -> None:
    page = to_html(make_report())
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
        assert not (tag == "script" and "src" in attrs)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert not re.search(r"""url\(\s*['"]?(https?:)?//""", page)
    assert "@import" not in page
    # Two scripts only: the data, then the page's code.
    assert [a.get("type") for a, _ in parsed.scripts] == ["application/json", None]


def test_the_csp_forbids_the_network_and_pins_the_script_by_hash() -> None:
    parsed = parse(to_html(make_report()))
    (csp,) = [
        a["content"]
        for tag, a in parsed.tags
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    rules = dict(rule.strip().split(" ", 1) for rule in csp.split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["img-src"] == "data:"
    (code,) = [text for attrs, text in parsed.scripts if not attrs]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert rules["script-src"] == f"'sha256-{digest}'"


def test_hostile_text_cannot_leave_the_data_script() -> None:
    page = to_html(make_report(HOSTILE + "\u2028line\u2029para & co"))
    assert page.count("</script>") == 2
    assert "<img" not in page and "<!--" not in page
    assert "\u2028" not in page and "\u2029" not in page
    assert "\\u003c/script\\u003e" in page and "\\u0026 co" in page
    # The text itself survives the escaping unchanged.
    doc = data_of(page)
    assert isinstance(doc, dict)
    assert doc["stories"][0]["headline"] == HOSTILE + "\u2028line\u2029para & co"


def test_script_json_escapes_only_what_it_must() -> None:
    assert script_json({"a": "<b>&</b>"}) == '{"a":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e"}'
    assert script_json(["Tô Lâm"]) == '["Tô Lâm"]'


def test_to_html_is_deterministic() -> None:
    assert to_html(make_report()) == to_html(make_report())
    assert to_html(make_report()) != to_html(make_report("Another title"))


def test_page_data_is_the_json_report_with_heatmaps() -> None:
    doc = page_data(make_report())
    assert doc["schema"] == "1"
    assert doc["heatmaps"] == {"S1": [[1.0, 0.8], [0.8, 1.0]]}  # none for a single article
    assert doc["related"] == [{"a": "S1", "b": "S2", "similarity": 0.1}]


def test_given_matrices_win_and_a_wrong_shape_is_ignored() -> None:
    report = make_report()
    given = page_data(report, matrices={"S1": [[1.0, 0.123456], [0.123456, 1.0]]})
    assert given["heatmaps"]["S1"] == [[1.0, 0.1235], [0.1235, 1.0]]
    assert "S1" not in page_data(report, matrices={"S1": [[1.0]]})["heatmaps"]


def test_a_large_story_shows_its_most_central_articles() -> None:
    n = HEATMAP_MAX + 5
    members = tuple(Member(_article(f"a{k}", f"t{k}", "en", None), 1.0) for k in range(n))
    matrix = tuple(tuple(float(i == j) for j in range(n)) for i in range(n))
    story = Story("S1", members, 0.0, 0.0, similarities=matrix)
    report = Report((story,), (), (), make_report().run)
    cells = page_data(report)["heatmaps"]["S1"]
    assert len(cells) == HEATMAP_MAX and all(len(row) == HEATMAP_MAX for row in cells)
    assert cells[HEATMAP_MAX - 1][HEATMAP_MAX - 1] == 1.0


def test_the_pipeline_fills_each_storys_similarity_matrix() -> None:
    articles, _ = read_corpus((str(SAMPLES),))
    report = cluster_articles(articles, Settings(backend="lexical"))
    for story in report.stories:
        matrix = story.similarities
        assert matrix is not None and len(matrix) == story.size
        for i, row in enumerate(matrix):
            assert row[i] == 1.0
            for j, value in enumerate(row):
                assert value == matrix[j][i] and value == round(value, 4)
        # The first row is the centre's: the similarities the members carry.
        assert [round(m.similarity, 4) for m in story.members] == list(matrix[0])
    heatmaps = page_data(report)["heatmaps"]
    assert sorted(heatmaps) == sorted(s.id for s in report.multi)


def test_a_page_holds_at_most_its_cap_of_articles_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = make_report()  # S1 of two articles, S2 of one
    assert "selection" not in page_data(report)
    monkeypatch.setattr(html, "PAGE_MAX_ARTICLES", 2)
    doc = page_data(report)
    assert [s["id"] for s in doc["stories"]] == ["S1"] and doc["related"] == []
    assert doc["summary"]["stories"] == 2  # the summary still counts the whole run
    assert doc["selection"]["note"].startswith("Showing 1 of 2 stories; left out: 1 past")
    assert "the largest stories, 2 articles at most" in doc["selection"]["note"]
    monkeypatch.setattr(html, "PAGE_MAX_ARTICLES", 1)  # one story at least, however big
    assert [s["id"] for s in page_data(report)["stories"]] == ["S1"]
    # A view the user chose is cut further, keeping its rule.
    monkeypatch.setattr(html, "PAGE_MAX_ARTICLES", 2)
    view = select(report, min_size=2)
    assert page_data(view)["selection"]["min_size"] == 2
