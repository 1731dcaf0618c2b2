"""Phrases that the Markdown report and the terminal table both use, written once."""

from __future__ import annotations

from collections.abc import Iterable

from dedup.models import Evidence, Report, Story

UNTITLED = "(untitled)"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 article``, ``2 articles``; ``many`` for an irregular plural."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def one_line(text: str) -> str:
    """``text`` on one line, every run of whitespace one space."""
    return " ".join(text.split())


def languages_text(story: Story) -> str:
    """A story's languages with their article counts: ``en 2 · fr 1``."""
    return " · ".join(f"{lang} {n}" for lang, n in story.languages.items())


def summary_counts(report: Report) -> str:
    """The line of counts that opens a report: articles, stories, skipped inputs."""
    return (
        f"{plural(report.articles, 'article')}"
        f" · {plural(len(report.stories), 'story', 'stories')}"
        f" ({len(report.multi)} multi-article, {len(report.cross_language)} cross-language)"
        f" · {len(report.skipped)} skipped"
    )


def run_text(report: Report) -> str:
    """How the run grouped: backend, model and threshold."""
    run = report.run
    model = f", model {run.model}" if run.model else ""
    return f"backend {run.backend}{model}, threshold {run.threshold:.2f}"


def signal_text(components: Iterable[tuple[str, float]]) -> str:
    """``dense 0.31 + stems 0.12 + ... - 0.18``: what each signal adds, largest first."""
    parts = sorted(components, key=lambda kv: -abs(kv[1]))
    shown = [f"{name} {value:.2f}" for name, value in parts if name != "intercept" and value]
    intercept = dict(parts).get("intercept", 0.0)
    text = " + ".join(shown) or "nothing"
    if intercept:
        text += f" {'-' if intercept < 0 else '+'} {abs(intercept):.2f}"
    return text


def evidence_text(ev: Evidence) -> tuple[str, list[str]]:
    """Why two articles were linked: a head line (the stories, the pair, its similarity and
    whether it crosses languages) and its details (shared evidence, days, signals)."""
    where = ev.story_a if ev.story_a == ev.story_b else f"{ev.story_a} ~ {ev.story_b}"
    language = "same language" if ev.same_language else "across languages"
    if ev.day_a and ev.day_b:
        days = f"{ev.day_a} and {ev.day_b}, similarity x{ev.day_factor:.2f}"
    else:
        days = "not both known, no discount"
    return f"{where}  {ev.a} ~ {ev.b}  {ev.similarity:.2f}  {language}", [
        f"shared: {', '.join(t for t, _ in ev.shared) or 'nothing'}",
        f"days: {days}",
        f"signals: {signal_text(ev.components.items())} = {ev.fused:.2f}"
        + ("" if abs(ev.base - ev.fused) < 0.005 else f", on the story scale {ev.base:.2f}"),
    ]


def story_label(story: Story) -> str:
    """A story's id, and what the run did to it when it is a stored story that changed
    (``S000012 grown``)."""
    return f"{story.id} {story.status}" if story.changed and story.status else story.id
