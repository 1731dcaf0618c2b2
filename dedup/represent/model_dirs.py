"""A model directory dedup makes in its cache (the converted bundled model): whole or not, put in
place atomically over a stale one, and the work directories of killed conversions cleared.

A conversion writes into a work directory beside its target, named for the process that made
it (``.convert-PID@HOST-...``), writes a marker last (the files and their sizes), and renames
the directory into place. So a target without its marker, or whose files have other sizes
than the marker says, is an interrupted or damaged copy: it is made again and replaced. A work
directory whose process is gone (this machine's), or older than :data:`LEFTOVER_AGE`, will
never be finished: it is removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

#: A work directory older than this (seconds) is a leftover, whoever made it (a conversion
#: takes about half a minute, and the directory changes as each file is written).
LEFTOVER_AGE = 15 * 60
_PREFIX = ".convert-"
_WORK = re.compile(r"\.convert-(\d+)@(.*)-[^-]*")


def work_prefix() -> str:
    """The start of the names of this process's work directories: who made them, to clear
    them once that process is gone."""
    return f"{_PREFIX}{os.getpid()}@{socket.gethostname()}-"


def complete(directory: Path, marker: str, digest: str) -> bool:
    """Whether ``directory`` is whole: its ``marker`` file names the source ``digest``, and
    each file it lists has the size it had when written (a marker without a list, written by
    an older dedup, was written last, after every file)."""
    try:
        written = json.loads((directory / marker).read_text("utf-8"))
        files = written.get("files", {})
        return bool(written.get("sha256") == digest) and all(
            (directory / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def install(work: Path, target: Path, is_complete: Callable[[Path], bool]) -> None:
    """Rename the finished ``work`` to ``target``. A stale ``target`` (not ``is_complete``) is
    moved aside first, as a directory cannot be renamed over one that holds files; another
    run's finished copy stays, and ``work`` is left to the caller to remove."""
    aside: Path | None = None
    try:
        if target.is_symlink() and not is_complete(target):
            target.unlink()
        elif target.exists() and not is_complete(target):
            aside = Path(tempfile.mkdtemp(prefix=work_prefix(), dir=target.parent))
            os.replace(target, aside)
        try:
            os.replace(work, target)
        except OSError:
            if not is_complete(target):  # not another run's finished copy
                raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def clear_leftovers(parent: Path) -> None:
    """Remove the work directories under ``parent`` that will never be finished: made by a
    process of this machine that is gone (killed), or older than :data:`LEFTOVER_AGE`."""
    try:
        entries = [e for e in parent.iterdir() if e.name.startswith(_PREFIX)]
    except OSError:
        return
    host = socket.gethostname()
    for entry in entries:
        made = _WORK.fullmatch(entry.name)
        gone = made is not None and made[2] == host and not _alive(int(made[1]))
        try:
            old = time.time() - entry.lstat().st_mtime > LEFTOVER_AGE
        except OSError:
            continue
        if gone or old:
            logger.info("removing %s, left by a conversion that did not finish", entry)
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # a process of another user: alive
        return True
    return True
