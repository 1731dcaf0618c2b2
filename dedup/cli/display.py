"""The progress display of the commands: :class:`dedup.progress.Progress` drawn with rich on
standard error, a line per stage with its count (of its total, when known) and its time.

It is drawn only on an interactive terminal, and goes when the command's work is done
(before the report reaches standard output); it never writes to standard output. While it is
drawn, whatever else goes to standard error (warnings, ``-v`` logs) is printed above it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichBars
from rich.text import Text

from dedup.progress import Progress

__all__ = ["RichProgress", "progress_display"]


class _Counts(ProgressColumn):
    """``812/1,464`` while a stage runs (``812`` when its total is not known), then what it
    did (``1,464 articles (2 skipped)``)."""

    def render(self, task: Task) -> Text:
        summary = task.fields.get("summary")
        if summary:
            return Text(summary)
        if task.total is not None:
            return Text(f"{int(task.completed):,}/{int(task.total):,}")
        return Text(f"{int(task.completed):,}" if task.completed else "")


class RichProgress:
    """A :class:`dedup.progress.Progress` that draws with rich on ``console``; use it as a
    context manager (the display is drawn inside, and goes at the end)."""

    def __init__(self, console: Console) -> None:
        self._bars = RichBars(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=24),
            TimeElapsedColumn(),
            _Counts(),
            console=console,
            transient=True,
            redirect_stdout=False,  # the report goes there, never the display
            redirect_stderr=True,  # warnings and logs print above the display
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._bars.stop()

    def stage(self, name: str, total: int | None) -> None:
        self._task = self._bars.add_task(name, total=total, summary="")

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, n)

    def end(self, summary: str) -> None:
        if self._task is None:
            return
        task = next(t for t in self._bars.tasks if t.id == self._task)
        done = max(task.completed, task.total or 0, 1)  # a full bar: the stage is over
        self._bars.update(self._task, total=done, completed=done, summary=summary)
        self._bars.stop_task(self._task)
        self._task = None


def can_draw() -> bool:
    """Whether standard error is an interactive terminal (not a pipe, a file, ``TERM=dumb``)."""
    stream = sys.stderr
    return stream is not None and stream.isatty() and Console(stderr=True).is_interactive


@contextmanager
def progress_display(show: bool) -> Iterator[Progress | None]:
    """The progress display to pass to a run, drawn while inside; None (nothing drawn) unless
    ``show`` and standard error is an interactive terminal."""
    if not (show and can_draw()):
        yield None
        return
    with RichProgress(Console(stderr=True)) as display:
        yield display
