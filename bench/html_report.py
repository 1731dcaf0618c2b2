"""How fast the HTML report of a large corpus opens and responds, in headless chromium.

Builds a synthetic report of 10,000 articles in 3,000 stories (sizes from 1 to 320, eight
languages, a year of dates, heatmap matrices), writes report.html, opens it in Debian's
chromium through playwright and reads the page's own marks:

- first cards: ``performance.mark('dedup:first-render')``, set by the page's script once the
  first page of cards is in the document (milliseconds since navigation start), and the first
  contentful paint, when the reader sees them;
- navigation timing: the file read (responseEnd), DOMContentLoaded and load;
- search: the filter's own time (``performance.measure('dedup:filter')``) and the time from
  the input event to the next painted frame, for a few queries;
- opening the largest story (320 articles: its list and a 30 x 30 heatmap), to the next frame.

Each figure is the median of fresh page loads. Run it with the project's venv:

    .venv/bin/python bench/html_report.py [--repeat 5] [--keep report.html] [--write-docs]

``--write-docs`` replaces the section "HTML report" of docs/benchmarks.md (the file is created
when missing; other sections are left as they are).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright
from wordfreq import top_n_list

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dedup import __version__  # noqa: E402
from dedup.models import Article, Member, Related, Report, RunInfo, Story  # noqa: E402
from dedup.report.html import to_html  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
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
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "HTML report"
# Stories per size: 3,000 stories, 10,000 articles.
SIZES = {1: 1500, 2: 600, 3: 400, 5: 250, 8: 150, 15: 70, 40: 25, 320: 5}
LANGS = ["en", "vi", "fr", "de", "es", "id", "ru", "pt"]
# A topic, an outlet, a language by name, one letter (matches nearly all), nothing, cleared.
QUERIES = ["nvidia", "outlet-007", "vietnamese", "a", "zzzz", ""]


def synthetic_report(seed: int = 7) -> Report:
    rng = random.Random(seed)
    words = {lang: top_n_list(lang, 4000)[200:] for lang in LANGS}
    outlets = [f"outlet-{k:03d}.example" for k in range(240)]
    start = dt.date(2024, 1, 1)
    sizes = sorted((size for size, count in SIZES.items() for _ in range(count)), reverse=True)
    stories: list[Story] = []
    related: list[Related] = []
    n = 0
    for rank, size in enumerate(sizes, start=1):
        langs = rng.sample(LANGS, k=rng.choice([1, 1, 2, 3])) if size > 1 else [rng.choice(LANGS)]
        day = start + dt.timedelta(days=rng.randrange(366))
        topic = rng.choice(["nvidia", "hanoi", "summit", "flood", "election", "trade"])
        members = []
        for k in range(size):
            lang = langs[k % len(langs)]
            title = " ".join([topic, *rng.sample(words[lang], rng.randint(6, 12))]).capitalize()
            article = Article(
                id=f"a{n}",
                title=title,
                text="",
                source=rng.choice(outlets),
                url=f"https://news.example/{n}",
                lang=lang,
                published=day + dt.timedelta(days=rng.randrange(4)) if rng.random() > 0.1 else None,
                origin=f"feed.jsonl:{n + 1}",
            )
            members.append(Member(article, 1.0 if k == 0 else round(rng.uniform(0.5, 0.95), 4)))
            n += 1
        matrix = [[1.0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                matrix[i][j] = matrix[j][i] = round(rng.uniform(0.45, 0.95), 4)
        stories.append(
            Story(
                id=f"S{rank}",
                members=tuple(members),
                cohesion_min=0.45 if size > 1 else None,
                cohesion_mean=round(rng.uniform(0.5, 0.9), 4) if size > 1 else None,
                similarities=tuple(tuple(row) for row in matrix),
            )
        )
        if rank > 1 and rng.random() < 0.3:
            related.append(Related(f"S{rng.randrange(1, rank)}", f"S{rank}", 0.3))
    run = RunInfo(__version__, "hybrid", "intfloat/multilingual-e5-small", 0.5, 0.25, ("feed",))
    return Report(tuple(stories), tuple(related), (), run)


LOAD_FIGURES = """async () => {
    const nav = performance.getEntriesByType('navigation')[0];
    // Element Timing: when the first card's headline was painted.
    const painted = await new Promise(resolve => new PerformanceObserver(list => {
        const entry = list.getEntries().find(e => e.identifier === 'first-card');
        if (entry) resolve(entry.renderTime || entry.loadTime);
    }).observe({ type: 'element', buffered: true }));
    return {
        first_cards: performance.getEntriesByName('dedup:first-render')[0].startTime,
        script: performance.getEntriesByName('dedup:render')[0].duration,
        paint: painted,
        response_end: nav.responseEnd,
        dom_content_loaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        cards: document.querySelectorAll('#cards article').length,
    };
}"""

SEARCH = """async (query) => {
    const box = document.getElementById('search');
    const before = performance.getEntriesByName('dedup:filter').length;
    const start = performance.now();
    box.value = query;
    box.dispatchEvent(new Event('input'));
    // The page filters in the next animation frame; the one after comes once it is painted.
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const done = performance.getEntriesByName('dedup:filter');
    return {
        to_frame: performance.now() - start,
        filter: done.length > before ? done[done.length - 1].duration : null,
        matches: +document.documentElement.dataset.matches,
    };
}"""

OPEN_LARGEST = """async () => {
    const details = document.querySelector('#cards article details');
    const start = performance.now();
    details.open = true;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return {
        to_frame: performance.now() - start,
        members: details.querySelectorAll('.member').length,
        cells: details.querySelectorAll('svg.heat rect').length,
    };
}"""


def measure(page: Page, url: str) -> dict[str, Any]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    page.wait_for_selector("html[data-charts='1']")
    figures: dict[str, Any] = page.evaluate(LOAD_FIGURES)
    figures["search"] = {q: page.evaluate(SEARCH, q) for q in QUERIES}
    figures["open"] = page.evaluate(OPEN_LARGEST)
    if problems:
        raise SystemExit(f"the page logged errors: {problems}")
    return figures


def median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


def cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} CPUs"


def markdown(report: Report, size: int, runs: list[dict[str, Any]], version: str) -> str:
    def ms(*path: str) -> str:
        return f"{median(runs, *path):.0f} ms"

    rows = [
        ("first cards painted: visible (Element Timing)", ms("paint")),
        ("first cards in the document (the page's mark)", ms("first_cards")),
        ("the page's script: data parsed, first 50 cards built", ms("script")),
        ("DOMContentLoaded", ms("dom_content_loaded")),
        ("load event", ms("load")),
    ]
    for query in QUERIES:
        label = f'search "{query}"' if query else "search cleared"
        matches = int(median(runs, "search", query, "matches"))
        filt = median(runs, "search", query, "filter")
        frame = median(runs, "search", query, "to_frame")
        rows.append(
            (f"{label}: {matches:,} stories", f"{filt:.0f} ms filter, {frame:.0f} ms to frame")
        )
    largest = report.stories[0]
    rows.append(
        (
            f"open the largest story ({largest.size} articles, 30 x 30 heatmap)",
            ms("open", "to_frame"),
        )
    )
    table = "\n".join(f"| {what} | {value} |" for what, value in rows)
    worst_filter = max(median(runs, "search", q, "filter") for q in QUERIES)
    worst_frame = max(median(runs, "search", q, "to_frame") for q in QUERIES)
    return f"""## {SECTION}

A synthetic report of {report.articles:,} articles in {len(report.stories):,} stories
(sizes 1 to {largest.size}, {len(LANGS)} languages, a year of dates, heatmap matrices),
written as one report.html of {size / 1e6:.1f} MB and opened {len(runs)} times in headless
chromium {version} (Debian's, via playwright) on {cpu_name()}. Medians; load times are
milliseconds from navigation start. The page draws 50 cards, then 50 more as the reader
scrolls; a card's articles and heatmap are built when it opens.

```sh
.venv/bin/python bench/html_report.py --repeat {len(runs)} --write-docs
```

| measure | median |
| --- | --- |
{table}

The goal was under two seconds to open: the first cards are visible in
{median(runs, "paint") / 1000:.2f} s. Each search runs in at most {worst_filter:.0f} ms over
{len(report.stories):,} stories and its result is on screen within {worst_frame:.0f} ms of
the keystroke (the input event, the filter, two animation frames).
"""


def write_section(text: str) -> None:
    old = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old).rstrip("\n") + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + text
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="also keep the page at this path")
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    args = parser.parse_args()

    report = synthetic_report()
    page_text = to_html(report)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "report.html"
        path.write_text(page_text, encoding="utf-8")
        size = path.stat().st_size
        runs = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                runs.append(measure(page, path.resolve().as_uri()))
                page.close()
            version = browser.version
            browser.close()
    text = markdown(report, size, runs, version)
    print(text)
    if args.write_docs:
        write_section(text)
        print(f"wrote the section {SECTION!r} of {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    main()
