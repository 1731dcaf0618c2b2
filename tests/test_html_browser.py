"""The HTML report in a real browser: Debian's chromium, headless, driven by playwright.

`make test` installs chromium first when it is missing (`make browser`); these tests skip,
saying why, only when /usr/bin/chromium is still not there. Every page is checked for console
errors and for network requests: the file itself must be the only one.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    Request,
    expect,
    sync_playwright,
)
from test_honest_dates import text_dated_report
from typer.testing import CliRunner

from dedup.cli import app
from dedup.models import Article, Member, Related, Report, RunInfo, Skipped, Story
from dedup.report.html import to_html

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches chromium reaches out to Google's hosts on start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLES = Path(__file__).parent.parent / "samples" / "articles"
SCRIPT = "</script><script>window.__pwned = 'script'</script>"
IMG = "<img src=x onerror=\"window.__pwned = 'img'\">"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: run `make browser` (as root) to install chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    page: Page
    url: str
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def check_clean(self) -> None:
        assert self.problems == []
        assert self.requests == [self.url]
        assert self.dialogs == []


Opener = Callable[[Path], Opened]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Opener]:
    pages: list[Page] = []

    def opener(path: Path) -> Opened:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        opened = Opened(page, path.resolve().as_uri())

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type in ("error", "warning"):
                opened.problems.append(f"{msg.type}: {msg.text}")

        def on_error(exc: Error) -> None:
            opened.problems.append(f"pageerror: {exc}")

        def on_request(request: Request) -> None:
            opened.requests.append(request.url)

        def on_dialog(dialog: Dialog) -> None:
            opened.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", on_error)
        page.on("request", on_request)
        page.on("dialog", on_dialog)
        page.goto(opened.url)
        page.wait_for_selector("html[data-charts='1']", timeout=10_000)
        return opened

    yield opener
    for page in pages:
        page.close()


@dataclass
class Samples:
    html: Path
    doc: dict[str, Any]  # report.json of the same run


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """The samples' report.html and report.json, written together by the CLI's --out."""
    out = tmp_path_factory.mktemp("samples")
    result = CliRunner().invoke(
        app, ["cluster", str(SAMPLES), "--backend", "lexical", "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    return Samples(out / "report.html", json.loads((out / "report.json").read_text("utf-8")))


def cards(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        "#cards article",
        """nodes => nodes.map(n => ({
            id: n.dataset.story,
            headline: n.querySelector('h3').textContent,
            langs: [...n.querySelectorAll('summary .badge')].map(b => b.childNodes[1].data),
            cross: !!n.querySelector('.xl'),
        }))""",
    )
    return found


def test_the_samples_report_shows_its_three_stories(samples: Samples, open_page: Opener) -> None:
    opened = open_page(samples.html)
    page = opened.page
    stories = samples.doc["stories"]
    assert len(stories) == 3, "samples/ holds three true stories (see samples/labels.csv)"
    shown = cards(page)
    assert [c["id"] for c in shown] == [s["id"] for s in stories]
    assert [c["headline"] for c in shown] == [s["headline"] for s in stories]
    assert [sorted(c["langs"]) for c in shown] == [sorted(s["languages"]) for s in stories]
    assert [c["cross"] for c in shown] == [s["cross_language"] for s in stories]
    assert {lang for c in shown for lang in c["langs"]} == {"en", "vi"}
    summary = samples.doc["summary"]
    figures = page.eval_on_selector_all(
        ".figure", "nodes => nodes.map(n => n.querySelector('dd').firstChild.data)"
    )
    assert figures == [
        str(summary["articles"]),
        str(summary["stories"]),
        str(summary["cross_language_stories"]),
        "2",
        "0",
        "lexical",
    ]
    assert page.locator("#chart-langs .lang-row").count() == len(stories)
    opened.check_clean()


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _expected(doc: dict[str, Any], query: str) -> list[str]:
    """What the search box must keep: stories whose words hold every word of the query."""
    names = {"en": "english", "vi": "vietnamese"}
    found = []
    for story in doc["stories"]:
        words = [story["id"], story["headline"], *story["sources"]]
        words += [w for lang in story["languages"] for w in (lang, names.get(lang, lang))]
        words += [w for m in story["members"] for w in (m["title"], m["source"])]
        text = _fold("\n".join(words))
        if all(word in text for word in _fold(query).split()):
            found.append(story["id"])
    return found


def test_the_search_box_filters_stories(samples: Samples, open_page: Opener) -> None:
    opened = open_page(samples.html)
    page = opened.page
    every = [s["id"] for s in samples.doc["stories"]]

    def search(text: str) -> list[str]:
        expected = _expected(samples.doc, text)
        page.locator("#search").fill(text)
        # The page filters on the next animation frame: wait for it, then compare.
        try:
            page.wait_for_function(
                "ids => [...document.querySelectorAll('#cards article')]"
                ".map(n => n.dataset.story).join() === ids.join()",
                arg=expected,
                timeout=3_000,
            )
        finally:
            assert [c["id"] for c in cards(page)] == expected, text
        return expected

    narrowed = [
        search("nvidia"),
        search("to lam seminar"),  # accents folded; every word must match
        search("004_52d5"),  # outlets
        search("english"),  # languages, by name
    ]
    assert any(0 < len(ids) < len(every) for ids in narrowed)
    assert search("no such words") == []
    assert page.locator(".empty").inner_text() == "No story matches."
    assert search("") == every
    page.check("#only-multi")
    expect(page.locator("#cards article")).to_have_count(
        sum(s["size"] > 1 for s in samples.doc["stories"])
    )
    opened.check_clean()


def test_a_card_opens_with_its_articles_and_heatmap(samples: Samples, open_page: Opener) -> None:
    opened = open_page(samples.html)
    page = opened.page
    story = next(s for s in samples.doc["stories"] if s["size"] > 1)
    card = page.locator(f"article[data-story='{story['id']}']")
    assert card.locator(".member").count() == 0  # built only when opened
    card.locator("summary").click()
    # A details element's toggle event comes a task later: expect() waits for it.
    expect(card.locator(".member")).to_have_count(story["size"])
    titles = card.locator(".m-title").all_inner_texts()
    assert [t.removesuffix("centre").strip() for t in titles] == [
        m["title"] for m in story["members"]
    ]
    widths = card.locator(".simbar i").evaluate_all("bars => bars.map(b => b.style.width)")
    assert widths == [f"{m['similarity'] * 100:g}%" for m in story["members"]]
    assert widths[0] == "100%"
    assert card.locator("svg.heat rect").count() == story["size"] ** 2
    opened.check_clean()


def test_explained_links_are_shown_inside_the_opened_card(
    tmp_path: Path, open_page: Opener
) -> None:
    out = tmp_path / "out"
    args = ["cluster", str(SAMPLES), "--backend", "lexical", "--explain", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "report.json").read_text("utf-8"))
    opened = open_page(out / "report.html")
    for story in doc["stories"]:
        card = opened.page.locator(f"article[data-story='{story['id']}']")
        card.locator("summary").click()
        expect(card.locator(".member")).to_have_count(story["size"])
        mine = [e for e in doc["explanations"] if story["id"] in e["stories"]]
        expect(card.locator(".evidence li")).to_have_count(len(mine))
        for ev, shown in zip(mine, card.locator(".evidence li").all_inner_texts(), strict=True):
            assert f"{ev['a']} ~ {ev['b']}" in shown
            assert "Shared: " + ", ".join(t["token"] for t in ev["shared"]) in shown
            assert "Signals: " in shown and f"= {ev['fused']:.2f}" in shown
    opened.check_clean()


def test_a_related_story_link_opens_it(tmp_path: Path, open_page: Opener) -> None:
    def story(sid: str, title: str) -> Story:
        article = Article(id=sid.lower(), title=title, text="x", source="s", lang="en")
        return Story(sid, (Member(article, 1.0),), None, None)

    # S70 is the neighbour of S1, on the second page of cards: the link must draw and open it.
    stories = tuple(story(f"S{k}", "Alpha" if k == 1 else f"Story {k}") for k in range(1, 81))
    run = RunInfo("0.1.0", "lexical", None, 0.1, 0.05, ("x",))
    path = tmp_path / "related.html"
    path.write_text(to_html(Report(stories, (Related("S1", "S70", 0.3),), (), run)), "utf-8")
    opened = open_page(path)
    page = opened.page
    page.locator("#search").fill("alpha")
    expect(page.locator("#cards article")).to_have_count(1)
    page.locator("article[data-story='S1'] summary").click()
    page.locator("article[data-story='S1'] .related a").click()
    target = page.locator("article[data-story='S70']")
    expect(target.locator(".member")).to_have_count(1)
    assert target.locator("details").evaluate("d => d.open") is True
    assert page.locator("#search").input_value() == ""  # the filter hiding it was cleared
    assert page.evaluate("() => location.hash") == "#S70"
    opened.check_clean()


def test_screenshot_of_the_samples_report(
    samples: Samples, open_page: Opener, tmp_path: Path
) -> None:
    opened = open_page(samples.html)
    opened.page.locator("#cards article details summary").first.click()
    expect(opened.page.locator("svg.heat")).to_have_count(1)
    shot = tmp_path / "report.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    opened.check_clean()


INJECTED = """() => {
    const found = [];
    const code = document.scripts[document.scripts.length - 1];
    for (const node of document.querySelectorAll('*')) {
        for (const attr of node.attributes) {
            if (attr.name.startsWith('on')) found.push(node.tagName + ' ' + attr.name);
        }
        if (['IMG', 'IFRAME', 'OBJECT', 'EMBED'].includes(node.tagName)) found.push(node.tagName);
        // The page's own b and i elements carry a class or no text.
        if (['B', 'U'].includes(node.tagName) && !node.className) found.push(node.tagName);
        if (node.tagName === 'SCRIPT' && node.id !== 'data' && node !== code) found.push('SCRIPT');
        if (node.tagName === 'I' && node.textContent) found.push('I ' + node.textContent);
    }
    return found;
}"""


def _hostile_report() -> Report:
    def article(id: str, title: str, source: str, lang: str, url: str | None) -> Article:
        day = dt.date(2024, 1, 2)
        return Article(id, title, "x", source, url, lang, day, origin=f"<b>{id}</b>")

    a = article("a", SCRIPT, "<i>outlet</i>", "en", "javascript:window.__pwned='link'")
    b = article("b", IMG, "evil.example", "<svg onload=\"window.__pwned='lang'\">", None)
    story = Story("S1", (Member(a, 1.0), Member(b, 0.5)), 0.5, 0.5, ((1.0, 0.5), (0.5, 1.0)))
    run = RunInfo("0.1.0", "lexical", "<b>model</b>", 0.1, 0.05, ("<u>in</u>",), warnings=(IMG,))
    return Report((story,), (), (Skipped("<b>s</b>", IMG),), run)


def test_a_hostile_article_stays_inert(tmp_path: Path, open_page: Opener) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(to_html(_hostile_report()), encoding="utf-8")
    opened = open_page(path)
    page = opened.page
    card = page.locator("article[data-story='S1']")
    card.locator("summary").click()
    expect(card.locator(".m-title")).to_have_count(2)
    assert card.locator("h3").inner_text() == SCRIPT
    titles = card.locator(".m-title").all_inner_texts()
    assert titles[0].startswith(SCRIPT) and titles[1].startswith(IMG)
    assert card.locator(".m-title a").count() == 0  # a javascript: URL is not a link
    card.locator(".m-title span").first.click()
    page.locator("#skipped summary").click()
    expect(page.locator("#skipped-list li")).to_have_count(1)
    assert IMG in page.locator("#skipped-list").inner_text()
    assert IMG in page.locator("#warnings").inner_text()
    # No element came from the data: no handler attribute, no tag the page never makes.
    injected = page.evaluate(INJECTED)
    assert injected == []
    assert page.evaluate("() => window.__pwned") is None
    opened.check_clean()


def test_cards_render_a_page_at_a_time(tmp_path: Path, open_page: Opener) -> None:
    articles = [
        Article(id=f"a{k}", title=f"Story number {k}", text="x", source="s", lang="en")
        for k in range(120)
    ]
    stories = tuple(
        Story(f"S{k + 1}", (Member(a, 1.0),), None, None) for k, a in enumerate(articles)
    )
    run = RunInfo("0.1.0", "lexical", None, 0.1, 0.05, ("x",))
    path = tmp_path / "many.html"
    path.write_text(to_html(Report(stories, (), (), run)), encoding="utf-8")
    opened = open_page(path)
    page = opened.page
    assert page.locator("#cards article").count() == 50
    page.locator("#more").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('#cards article').length === 100")
    # Clicked where it is, not scrolled to: scrolling would load the rest by itself.
    page.locator("#more").evaluate("button => button.click()")
    assert page.locator("#cards article").count() == 120
    assert page.locator("#more").is_hidden()
    # A link to one story (#S110) opens its card.
    page.goto(opened.url + "#S110")
    expect(page.locator("article[data-story='S110'] .member")).to_have_count(1)
    opened.check_clean()


def test_the_html_timeline_counts_text_dates_only_when_trusted(
    tmp_path: Path, open_page: Opener
) -> None:
    for trust in (False, True):
        path = tmp_path / f"trust-{trust}.html"
        path.write_text(to_html(text_dated_report(trust)), encoding="utf-8")
        opened = open_page(path)
        page = opened.page
        timeline = page.locator("#chart-timeline")
        if trust:
            assert timeline.locator("svg.chart").count() == 1
            assert "dates read from texts counted" in timeline.inner_text()
        else:
            assert timeline.locator("svg.chart").count() == 0
            assert "No article in this corpus has a known publication date." in (
                timeline.inner_text()
            )
        # Each member shows the date read from its text, marked as such, never as published.
        card = page.locator("article[data-story='S1']")
        card.locator("summary").click()
        expect(card.locator(".member")).to_have_count(2)
        read = card.locator(".m-sub .num").first
        assert read.inner_text() == "~7 Sep 2024"
        assert read.get_attribute("title") == (
            "Read from the text (dateline), not a published date"
        )
        opened.check_clean()


def _related_report() -> Report:
    """Two related stories, S1 (a1, a2, a3) and S2 (b1, b2), and a story apart, S3."""

    def story(sid: str, ids: list[str]) -> Story:
        members = tuple(
            Member(Article(id=i, title=f"Title {i}", text="x", source="s", lang="en"), 1.0 - k / 10)
            for k, i in enumerate(ids)
        )
        return Story(sid, members, 0.5, 0.6)

    stories = (story("S1", ["a1", "a2", "a3"]), story("S2", ["b1", "b2"]), story("S3", ["c1"]))
    run = RunInfo("0.1.0", "lexical", None, 0.1, 0.05, ("x",))
    return Report(stories, (Related("S1", "S2", 0.3),), (), run)


def _open_card(page: Page, sid: str, size: int) -> Any:
    card = page.locator(f"article[data-story='{sid}']")
    if not card.locator("details").evaluate("d => d.open"):
        card.locator("summary").click()
    expect(card.locator(".member")).to_have_count(size)
    return card


def _mark_out(page: Page, sid: str, article: str) -> None:
    page.locator(
        f"article[data-story='{sid}'] button[aria-label='Not in story {sid}: {article}']"
    ).click()


def _mark_same(page: Page, sid: str, other: str) -> None:
    label = f"Same story: {sid} and {other}"
    page.locator(f"article[data-story='{sid}'] button[aria-label='{label}']").click()


def _download(page: Page) -> list[dict[str, Any]]:
    with page.expect_download() as info:
        page.locator("#judge-download").click()
    download = info.value
    assert download.suggested_filename == "judgements.jsonl"
    text = Path(download.path()).read_text("utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_the_reader_marks_judgements_and_downloads_them(tmp_path: Path, open_page: Opener) -> None:
    path = tmp_path / "judge.html"
    path.write_text(to_html(_related_report()), "utf-8")
    opened = open_page(path)
    page = opened.page
    bar, count = page.locator("#judge-bar"), page.locator("#judge-count")
    assert bar.is_hidden()  # nothing marked yet
    s1 = _open_card(page, "S1", 3)
    _mark_out(page, "S1", "a2")
    expect(count).to_have_text("1 judgement")
    assert s1.locator(".member.out .m-title").all_inner_texts() == ["Title a2"]
    _mark_same(page, "S1", "S2")
    expect(count).to_have_text("2 judgements")
    # Undo: clicking a mark again takes it back.
    _mark_out(page, "S1", "a3")
    expect(count).to_have_text("3 judgements")
    _mark_out(page, "S1", "a3")
    expect(count).to_have_text("2 judgements")
    assert s1.locator(".member.out").count() == 1
    # The pair is one judgement from either side: S2's button shows it, and undoes it.
    s2 = _open_card(page, "S2", 2)
    same = s2.locator("button[aria-label='Same story: S2 and S1']")
    expect(same).to_have_attribute("aria-pressed", "true")
    same.click()
    expect(count).to_have_text("1 judgement")
    expect(s1.locator("button[aria-label='Same story: S1 and S2']")).to_have_attribute(
        "aria-pressed", "false"
    )
    same.click()
    expect(count).to_have_text("2 judgements")
    assert _download(page) == [
        {"verdict": "not_in_story", "article": "a2", "story": "S1", "with": ["a1", "a3"]},
        {
            "verdict": "same_story",
            "stories": ["S1", "S2"],
            "articles": [["a1", "a2", "a3"], ["b1", "b2"]],
        },
    ]
    # The download is a blob made by the page: the file stays its one request.
    opened.check_clean()


def test_judgements_survive_a_reload(tmp_path: Path, open_page: Opener) -> None:
    path = tmp_path / "judge.html"
    path.write_text(to_html(_related_report()), "utf-8")
    opened = open_page(path)
    page = opened.page
    _open_card(page, "S1", 3)
    _mark_out(page, "S1", "a1")
    _mark_same(page, "S1", "S2")
    expect(page.locator("#judge-count")).to_have_text("2 judgements")
    page.reload()  # the file is asked for again: the one request, twice
    page.wait_for_selector("html[data-charts='1']")
    expect(page.locator("#judge-count")).to_have_text("2 judgements")
    s1 = _open_card(page, "S1", 3)
    titles = s1.locator(".member.out .m-title").all_inner_texts()
    assert [t.removesuffix("centre").strip() for t in titles] == ["Title a1"]
    expect(s1.locator("button.judge[aria-pressed='true']")).to_have_count(2)
    assert [v["verdict"] for v in _download(page)] == ["not_in_story", "same_story"]
    # Another report (other stories) does not see this one's marks.
    other = tmp_path / "other.html"
    report = _related_report()
    other.write_text(to_html(Report(report.stories[:2], report.related, (), report.run)), "utf-8")
    page.goto(other.resolve().as_uri())
    page.wait_for_selector("html[data-charts='1']")
    assert page.locator("#judge-bar").is_hidden()
    opened.requests = [opened.url]
    opened.check_clean()


def test_judgements_work_without_storage(tmp_path: Path, open_page: Opener) -> None:
    path = tmp_path / "judge.html"
    path.write_text(to_html(_related_report()), "utf-8")
    opened = open_page(path)
    page = opened.page
    # Storage that refuses every use, as a file: page with storage turned off.
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() {"
        " throw new DOMException('denied', 'SecurityError'); }});"
    )
    page.reload()
    page.wait_for_selector("html[data-charts='1']")
    denied = "() => { try { return typeof localStorage; } catch (e) { return e.name; } }"
    assert page.evaluate(denied) == "SecurityError"
    _open_card(page, "S1", 3)
    _mark_out(page, "S1", "a3")
    expect(page.locator("#judge-count")).to_have_text("1 judgement")
    assert _download(page) == [
        {"verdict": "not_in_story", "article": "a3", "story": "S1", "with": ["a1", "a2"]}
    ]
    opened.requests = [opened.url]
    opened.check_clean()
