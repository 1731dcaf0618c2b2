"""Phrases that the Markdown report and the terminal table both use, written once."""

from __future__ import annotations

from dedup.models import Article, Report, Story

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
    trust = ", dates read from texts trusted" if run.trust_text_dates else ""
    return f"backend {run.backend}{model}, threshold {run.threshold:.2f}{trust}"


def inferred_text(article: Article) -> str:
    """The date read from an article's text and where: ``2024-12-06 (dateline)``; "" for
    none. Never shown as its publication date."""
    if article.inferred is None:
        return ""
    return f"{article.inferred.isoformat()} ({article.inferred_from or 'text'})"
