"""The records that move through the pipeline: Article and Skipped in, Story and Report out."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Where a date read from an article's text was found (see dedup.clean.dating): a scraper's
#: ``date 2024-12-06`` stamp, a dateline, or elsewhere in the text.
DateSource = Literal["stamp", "dateline", "text"]


@dataclass(frozen=True, slots=True)
class Article:
    """One usable news article.

    ``id`` is unique in a run. ``text`` is the body without the title. ``origin`` says where the
    record came from (``path`` or ``path:line``) so a user can find it again.

    ``published`` is the publication date the record or the page's metadata gives, and only
    that. A date read from the text is ``inferred`` (``inferred_from`` says where), never
    ``published``: a text names birthdays, laws and anniversaries as readily as its own day.
    """

    id: str
    title: str
    text: str
    source: str = ""
    url: str | None = None
    lang: str | None = None
    published: dt.date | None = None
    origin: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)
    inferred: dt.date | None = None
    inferred_from: DateSource | None = None

    def date(self, *, text_dates: bool = False) -> dt.date | None:
        """The publication date; with ``text_dates`` (``--trust-text-dates``), else the date
        inferred from the text."""
        if self.published is not None or not text_dates:
            return self.published
        return self.inferred

    @property
    def full_text(self) -> str:
        """Title and body as one text, the title first."""
        if self.title and self.text:
            return f"{self.title}\n\n{self.text}"
        return self.title or self.text


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that could not be used, and why. The run goes on without it."""

    origin: str
    reason: str


@dataclass(frozen=True, slots=True)
class Member:
    """An article inside a story, with its similarity to the story's centre (its medoid)."""

    article: Article
    similarity: float


#: A stored story's status in a run: made in it, grown by new articles, merged with another
#: story (and perhaps grown), revised (an article's text replaced), or left as it was.
STATUSES = ("new", "grown", "merged", "revised", "unchanged")

#: How many of a story's most central members its kept similarity matrix covers.
SIMILARITY_MEMBERS = 30


@dataclass(frozen=True, slots=True)
class Story:
    """One real-world event and the articles that tell it, most central article first.

    ``similarities``, when known, is the similarity matrix of the story's first (most
    central) :data:`SIMILARITY_MEMBERS` members at most, in member order (4 places): the HTML
    report draws it as a heatmap; a story of 5,000 copies must not hold 25 million numbers.
    It is not part of the JSON report.
    """

    id: str
    members: tuple[Member, ...]
    cohesion_min: float | None
    cohesion_mean: float | None
    similarities: tuple[tuple[float, ...], ...] | None = None
    #: Whether the story's dates (first_date, last_date) include dates inferred from the
    #: members' texts (``Settings.trust_text_dates``), else published ones only.
    text_dates: bool = False
    #: From a story store only (``dedup.store``): what the run did to the story (one of
    #: :data:`STATUSES`), when it was first and last seen in a run (UTC, ISO 8601), and the
    #: stories it absorbed in that run. None and () in a batch run.
    status: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    merged_from: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the run changed the story (a store's story; a batch run's are all new)."""
        return self.status != "unchanged"

    @property
    def headline(self) -> str:
        return self.members[0].article.title

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def languages(self) -> dict[str, int]:
        counts = Counter(m.article.lang or "und" for m in self.members)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def sources(self) -> list[str]:
        return sorted({m.article.source for m in self.members if m.article.source})

    @property
    def dates(self) -> list[dt.date]:
        """The members' known dates (see :meth:`Article.date` and ``text_dates``)."""
        found = (m.article.date(text_dates=self.text_dates) for m in self.members)
        return [d for d in found if d is not None]

    @property
    def first_date(self) -> dt.date | None:
        return min(self.dates, default=None)

    @property
    def last_date(self) -> dt.date | None:
        return max(self.dates, default=None)

    @property
    def cross_language(self) -> bool:
        return len({m.article.lang for m in self.members if m.article.lang}) > 1


@dataclass(frozen=True, slots=True)
class Related:
    """Two stories about neighbouring events: similar, but below the grouping threshold."""

    a: str
    b: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why two articles are as similar as they are (``dedup cluster --explain``).

    ``components`` is what each signal adds to the fused sum (the fusion's intercept
    included); ``fused`` is that sum clipped to [0, 1], ``base`` the similarity before the day
    discount (``fused`` on the fusion's curve; for dense both are the cosine); ``shared``
    the names, acronyms (``^``), numbers (``#``) and days (``@MM-DD``) both articles state,
    strongest first; ``day_a``/``day_b`` each article's event day (``MM-DD``) when known and
    ``day_factor`` the discount for their gap.
    """

    story_a: str
    story_b: str
    a: str
    b: str
    similarity: float
    base: float
    fused: float
    same_language: bool
    components: Mapping[str, float]
    shared: tuple[tuple[str, float], ...]
    day_a: str | None
    day_b: str | None
    day_factor: float


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How the report was made: enough to reproduce it."""

    version: str
    backend: str
    model: str | None
    threshold: float
    related_threshold: float
    inputs: tuple[str, ...]
    timings: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: Dates read from the texts counted as publication dates (``Settings.trust_text_dates``).
    trust_text_dates: bool = False


@dataclass(frozen=True, slots=True)
class Selection:
    """What a report that shows only some of its run's stories left out, and by which rule:
    stories of at least ``min_size`` articles, the first ``limit`` of those (see
    :func:`dedup.report.view.select`). ``whole`` is the report of every story, which the
    summaries still count."""

    min_size: int
    limit: int | None
    whole: Report
    smaller: int  # stories left out for having fewer than min_size articles
    past_limit: int  # stories of min_size articles or more left out after the first limit

    @property
    def left_out(self) -> int:
        return self.smaller + self.past_limit


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a run found. Writers in ``dedup.report`` turn it into text, JSON and files.

    A report with a ``selection`` is a view of a run that shows only some of its stories (and
    the related pairs and evidence between them); :attr:`whole` is the run's report.
    """

    stories: tuple[Story, ...]
    related: tuple[Related, ...]
    skipped: tuple[Skipped, ...]
    run: RunInfo
    explanations: tuple[Evidence, ...] = ()  # only with ``Settings.explain``
    selection: Selection | None = None

    @property
    def whole(self) -> Report:
        """The report of every story of the run: this one, or the one it shows some of."""
        return self.selection.whole if self.selection is not None else self

    @property
    def articles(self) -> int:
        return sum(s.size for s in self.stories)

    @property
    def multi(self) -> tuple[Story, ...]:
        """Stories told by more than one article."""
        return tuple(s for s in self.stories if s.size > 1)

    @property
    def singletons(self) -> tuple[Story, ...]:
        """Stories of one article."""
        return tuple(s for s in self.stories if s.size == 1)

    @property
    def cross_language(self) -> tuple[Story, ...]:
        return tuple(s for s in self.stories if s.cross_language)

    @property
    def duplicate_ratio(self) -> float:
        """Share of articles that repeat a story already told by another article."""
        return (self.articles - len(self.stories)) / self.articles if self.articles else 0.0
