"""The stages of a run, in one place: each is timed (the report's ``run.timings``), logged at
INFO when it ends (``clean: 1,447 articles in 2.3 s (3 skipped)``), and told as it goes to a
:class:`Progress`, if one is given.

A stage hands the heap's freed pages back to the system when it ends
(:func:`give_back_freed_memory`): what it made and let go of stays free but held otherwise.

A :class:`Progress` is what draws progress: the command line passes one that draws with rich on
a terminal (``dedup.cli.display``); the library itself never draws anything, and its default,
:data:`NO_PROGRESS`, does nothing. Anything with these three methods will do, a recorder in
tests included.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = [
    "GIVE_BACK_BYTES",
    "NO_PROGRESS",
    "STAGES",
    "Advance",
    "Progress",
    "Stage",
    "Stages",
    "give_back_freed_memory",
    "seconds",
]

log = logging.getLogger(__name__)

#: The stages a run may go through, in their order: the name in the report's ``run.timings``
#: -> the name shown and logged. ``clean`` is one pass over each article: cleaned, its event
#: day found and, for the lexical backends, its profile made; ``lexical`` then weighs the
#: profiles over the corpus (a store's run makes its new articles' profiles there). A run of
#: the lexical backend has no model to load nor anything to embed; one of the dense backend no
#: lexical profiles; a rerun whose vectors are all in the embedding cache loads no model. A
#: run of the ray engine has ``map`` in place of ``clean``, ``lexical`` and ``embed``: one map
#: on the cluster does all three. ``write`` (the report files) and ``sweep`` (the thresholds
#: of ``dedup evaluate clusters --sweep``) are the command line's; ``tune`` and ``calibrate``
#: are `dedup tune`'s.
STAGES: dict[str, str] = {
    "read": "read",
    "clean": "clean",
    "lexical": "lexical profile",
    "load_model": "load model",
    "embed": "embed",
    "map": "per article on Ray",
    "link": "link",
    "group": "group",
    "report": "report",
    "sweep": "sweep",
    "write": "write",
    "store": "store",
    "tune": "tune",
    "calibrate": "calibrate",
}

#: What a stage's work calls as it goes: ``advance(n)`` when ``n`` more items are done.
Advance = Callable[[int], None]


class Progress(Protocol):
    """Told about a run's stages as they happen, one stage at a time."""

    def stage(self, name: str, total: int | None) -> None:
        """Stage ``name`` (a value of :data:`STAGES`) begins; ``total``: the items it will
        count (articles, mostly), or None when that is not known ahead."""

    def advance(self, n: int) -> None:
        """``n`` more items of the current stage are done."""

    def end(self, summary: str) -> None:
        """The current stage is over; ``summary`` says what it did, as ``-v`` logs it
        without its seconds (``1,447 articles (3 skipped)``)."""


class _NoProgress:
    def stage(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def end(self, summary: str) -> None:
        pass


#: The default: nothing is drawn.
NO_PROGRESS: Progress = _NoProgress()


#: Bytes a loop that lets go of many small arrays frees between two calls of
#: :func:`give_back_freed_memory` (the lexical counts' stacking, linking's candidate keys).
GIVE_BACK_BYTES = 1 << 28


def give_back_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; nothing where
    there is none). What a stage frees is held otherwise: the arrays numpy allocates below
    glibc's mmap threshold (which rises to 32 MiB once bigger ones are freed) and the small
    objects of the articles leave holes inside the heap, which glibc does not give back by
    itself. Measured at 10^6 articles, the holes left after linking were 1.7 GB and after
    grouping 1.2 GB, held to the end of the run; the per-article parts' counts, 2 GB."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (Windows takes no None)
        return
    trim(0)


def seconds(value: float) -> str:
    """``2.3 s``: three significant figures at most, no exponent."""
    if value >= 100:
        return f"{value:.0f} s"
    return f"{value:.1f} s" if value >= 1 else f"{value:.2f} s"


class Stage:
    """One stage under way (see :meth:`Stages.stage`): its work calls :meth:`advance` as it
    goes, and may say at the end what it made (``count`` of ``unit``, or ``what``) and add a
    ``note``; otherwise the summary is the items advanced."""

    def __init__(
        self, label: str, total: int | None, unit: str, progress: Progress, shown: bool
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.count: int | None = None
        self.what: str | None = None
        self.note = ""
        self._progress = progress
        self.shown = shown
        if shown:
            progress.stage(label, total)

    def advance(self, n: int = 1) -> None:
        """``n`` more items are done."""
        if n <= 0:
            return
        if not self.shown:  # a stage begun quietly shows itself once it has done something
            self.shown = True
            self._progress.stage(self.label, self.total)
        self.done += n
        self._progress.advance(n)

    def summary(self, spent: float | None = None) -> str:
        """What the stage did, in words: ``1,447 articles (3 skipped)``, or with the seconds
        ``spent``, ``1,447 articles in 2.3 s (3 skipped)``."""
        text = self.what or f"{self.done if self.count is None else self.count:,} {self.unit}"
        if spent is not None:
            text = f"{text} in {seconds(spent)}"
        return f"{text} ({self.note})" if self.note else text


class Stages:
    """Times the stages of a run, logs each, and tells a :class:`Progress` about them.

    ``timings`` (name -> seconds, summed when a name runs twice) starts from ``timings``
    when given: the stages already run by an earlier part of the same run.
    """

    def __init__(
        self, progress: Progress | None = None, timings: dict[str, float] | None = None
    ) -> None:
        self.progress = progress if progress is not None else NO_PROGRESS
        self.timings: dict[str, float] = dict(timings or {})

    @contextmanager
    def stage(
        self,
        name: str,
        total: int | None = None,
        *,
        unit: str = "articles",
        quiet_until_done: bool = False,
    ) -> Iterator[Stage]:
        """Run stage ``name`` (a key of :data:`STAGES`) of ``total`` items of ``unit``.

        ``quiet_until_done``: neither shown nor logged unless it advances (a look that may
        find nothing, such as the embedding cache before the model is loaded); it is timed
        all the same. A stage that raises is timed, but neither logged nor ended: the error
        says what happened.
        """
        label = STAGES[name]
        start = time.perf_counter()
        stage = Stage(label, total, unit, self.progress, shown=not quiet_until_done)
        try:
            yield stage
        finally:
            give_back_freed_memory()  # its seconds are the stage's
            spent = time.perf_counter() - start
            self.timings[name] = self.timings.get(name, 0.0) + spent
        if stage.shown:
            log.info("%s: %s", label, stage.summary(spent))
            self.progress.end(stage.summary())
