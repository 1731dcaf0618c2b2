"""Where a command writes, checked before any work: no two outputs on one file, no output over
an input article, the story store or the embedding cache, and no target read that is not a
regular file (a FIFO or ``/dev/stdout`` would block, or read the run's own pipe)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import typer

from dedup.errors import OutputError

#: Standard output as a target: what ``--json`` and the table write.
STDOUT = "standard output"


def store_files(store: Path) -> list[Path]:
    """The story store and the journals SQLite keeps beside it."""
    return [store, *(Path(f"{store}{end}") for end in ("-wal", "-shm", "-journal"))]


def outputs(
    out: Path | None,
    html: Path | None,
    representatives: Path | None,
    *,
    store: Path | None = None,
    cache: Path | None = None,
) -> list[Path]:
    """Every file the run writes: the ``--out`` set, then the single files named. A usage
    error when two of them are one file, or one is the story ``store``, its journal or a file
    of the embedding ``cache`` (or of dedup's own cache directory), and an output error when
    standard output is one of those."""
    from dedup.report.outputs import output_paths

    files = [("--html", html), ("--representatives", representatives)]
    named = [("--out", path) for path in (output_paths(out) if out is not None else [])]
    named += [(flag, path) for flag, path in files if path is not None]
    seen: dict[str, str] = {}
    for flag, path in named:
        first = seen.setdefault(os.path.realpath(path), flag)
        if first != flag:
            raise typer.BadParameter(f"{path} is written by {first} too", param_hint=flag)
    kept = _kept_files(store, cache)
    for flag, path in named:
        if (what := _kept(path, kept)) is not None:
            raise typer.BadParameter(
                f"{path} is {what}, never an output: name another file", param_hint=flag
            )
    if (what := _kept(STDOUT, kept)) is not None:
        raise OutputError(f"standard output is {what}: send the report elsewhere")
    return [path for _, path in named]


def _kept_files(store: Path | None, cache: Path | None) -> list[tuple[Path, bool, str]]:
    """(path, whether a folder, what it is) for every file no output may be."""
    from dedup.config import cache_root
    from dedup.errors import InputError
    from dedup.represent.cache import cache_paths

    kept: list[tuple[Path, bool, str]] = []
    if store is not None:
        database, *journals = store_files(store)
        kept.append((database, False, "the story store (--store)"))
        kept += [(path, False, f"the journal of the story store {store}") for path in journals]
    homes = [cache] if cache is not None else []
    with contextlib.suppress(InputError):  # an unusable cache directory holds nothing
        homes.append(cache_root())  # converted models live there whatever --cache says
    for home in homes:
        (database, *journals), folders = cache_paths(home)
        kept.append((database, False, "the embedding cache"))
        kept += [
            (path, False, f"the journal of the embedding cache {database}") for path in journals
        ]
        kept += [(path, True, f"in dedup's cache folder {path}") for path in folders]
    return kept


def _kept(target: Path | str, kept: Iterable[tuple[Path, bool, str]]) -> str | None:
    """What ``target`` (a path, or :data:`STDOUT`) is among ``kept``: the same file (by its
    real path, or by its inode for a hard link or a descriptor) or a file in a kept folder."""
    try:
        info = os.fstat(sys.stdout.fileno()) if target == STDOUT else os.stat(target)
    except (OSError, ValueError, AttributeError):
        info = None  # nothing there yet (or no standard output): by name only
    if target == STDOUT and (info is None or not stat.S_ISREG(info.st_mode)):
        return None  # a terminal or a pipe is no file that could be kept
    real = None if target == STDOUT else os.path.realpath(target)
    for path, folder, what in kept:
        mine = os.path.realpath(path)
        if folder and real is not None and real.startswith(os.path.join(mine, "")):
            return what
        if real == mine:
            return what
        try:
            other = os.stat(path)
        except OSError:
            continue
        if info is not None and (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino):
            return what
    return None


def check_file_output(target: Path, flag: str, inputs: Sequence[str]) -> None:
    """A single file to write (``--html``, ``--representatives``): writable, and not an input.

    An existing file that dedup did not write and that is among the inputs is an article:
    writing the output there would destroy it. A device, a FIFO or ``/dev/stdout`` is written
    through and never read: reading it would block, or read the run's own pipe."""
    from dedup.read.own import own_file
    from dedup.report.outputs import check_writable, written_through

    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    if written_through(target):
        if not os.access(target, os.W_OK):
            raise OutputError(f"cannot write {target}: Permission denied")
        return
    check_writable(Path(os.path.realpath(target)).parent)
    try:
        with target.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return  # nothing there (or unreadable: writing will say so)
    if own_file(head) is not None:
        return  # an earlier output: replacing it is the point
    real = os.path.realpath(target)
    for item in inputs:
        if item == "-":
            continue
        root = os.path.realpath(item)
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            raise OutputError(
                f"{flag} {target} is an input article ({item}): name another file for the report"
            )
