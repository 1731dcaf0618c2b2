"""The report's files on disk: each written atomically, the ``--out`` set all old or all new.

Writers (``dedup.report.document``, ``.markdown``, ``.html``) render text; this module alone
writes it. A target that is no regular file (a device such as ``/dev/null``, a FIFO, a
terminal) or that names an open descriptor (``/dev/stdout``, ``/dev/fd/N``) is written
through, never renamed over: no atomic write is possible there. A symbolic link to a regular
file is resolved: its target is written atomically and the link stays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from dedup.errors import OutputError, os_reason
from dedup.models import Report
from dedup.report.document import json_chunks, jsonl_chunks
from dedup.report.html import to_html
from dedup.report.markdown import to_markdown

log = logging.getLogger(__name__)

# The files written into ``--out``.
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
STORIES_NAME = "stories.jsonl"
HTML_NAME = "report.html"


def _umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 so that ``path`` holds either its old or its new content.

    A temporary file in the same directory is written, flushed to disk and renamed over
    ``path`` (over the file a symbolic link ``path`` points to, never over the link). On
    failure the temporary file is removed and ``OutputError`` is raised. A device, a FIFO or
    a descriptor's name is written through instead (:func:`written_through`).
    """
    staged = _stage(Path(path), text)
    if staged is not None:
        _commit([staged])


# /proc/self/fd/N or /proc/<this process>/fd/N: what /dev/stdout and /dev/fd/N lead to.
_OWN_DESCRIPTOR = re.compile(rf"/proc/(?:self|{os.getpid()})/fd/(\d+)")


def _via_proc(path: Path) -> tuple[bool, int | None]:
    """Whether ``path`` leads through /proc (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``:
    the name of an open descriptor, which only opening can use), and the number of the
    descriptor of this process it names, if it names one."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        # Links in the folders on the way resolved, the last part kept as it is.
        current = os.path.join(
            os.path.realpath(os.path.dirname(current)), os.path.basename(current)
        )
        if current == "/proc" or current.startswith("/proc/"):
            own = _OWN_DESCRIPTOR.fullmatch(current)
            return True, int(own.group(1)) if own else None
        try:
            link = os.readlink(current)
        except OSError:  # not a link (or nothing there): the end of the chain
            return False, None
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return False, None


def written_through(path: Path) -> bool:
    """Whether writing ``path`` writes through it rather than renaming a new file over it: a
    character or block device, a FIFO or a socket (or a link to one), or the name of an open
    descriptor such as ``/dev/stdout``. Nothing there, a regular file or a link to one: no."""
    try:
        mode = os.stat(path).st_mode  # through links
    except (OSError, ValueError):
        return False
    if stat.S_ISDIR(mode):
        return False  # writing says it is a directory
    return not stat.S_ISREG(mode) or _via_proc(path)[0]


CHUNK_CHARS = 1 << 20


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    """``pieces`` as UTF-8, about :data:`CHUNK_CHARS` characters at a time: a JSON encoder
    gives millions of tiny pieces, each encoded and written on its own cost more than making
    them. Lone surrogates (undecodable input bytes) are shown, not a reason to lose a report;
    joining pieces never makes a pair of them (a string keeps each code point)."""
    held: list[str] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(held).encode("utf-8", errors="backslashreplace")
            held.clear()
            size = 0
    if held:
        yield "".join(held).encode("utf-8", errors="backslashreplace")


def _write_through(path: Path, pieces: Iterable[str]) -> None:
    """Write ``pieces`` into ``path`` as it is (see :func:`written_through`). A descriptor of
    this process (``/dev/stdout``) is written through a copy of it, as a shell does, so that
    what follows on it comes after, not over, what is written here."""
    own = _via_proc(path)[1]
    try:
        with os.fdopen(os.dup(own), "wb") if own is not None else open(path, "wb") as handle:
            for chunk in _encoded(pieces):
                handle.write(chunk)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc
    log.debug("wrote %s through (no atomic rename there)", path)


def _stage(path: Path, text: str | Iterable[str]) -> tuple[Path, Path] | None:
    """``text`` (or its pieces, rendered as they are written) written, flushed and synced to a
    temporary file beside ``path`` (beside the file a link ``path`` leads to): (it, the file to
    rename it over). None when ``path`` is written through (:func:`written_through`): then it
    is written here."""
    pieces = [text] if isinstance(text, str) else text
    if written_through(path):
        _write_through(path, pieces)
        return None
    path = Path(os.path.realpath(path))  # a link stays a link; the file it leads to is replaced
    tmp: Path | None = None
    size = 0
    try:
        with tempfile.NamedTemporaryFile(
            mode="wb",
            buffering=1 << 20,  # a JSON encoder gives tiny pieces
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        ) as handle:
            tmp = Path(handle.name)
            file = handle.file  # not through the wrapper's lookup of ``write`` per chunk
            for chunk in _encoded(pieces):
                size += file.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        # The temporary file is private (0600); give the report the mode a new file would get.
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as exc:
        _discard([tmp])
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc
    except BaseException:  # Ctrl-C or SIGTERM mid-write: leave no temporary file behind
        _discard([tmp])
        raise
    log.debug("staged %s (%d bytes)", path, size)
    return tmp, path


def _commit(staged: Sequence[tuple[Path, Path]]) -> None:
    """Rename each staged file over its target, all under one lock on their directory, so
    that two runs writing the same files leave one run's set, not a mix of both."""
    target = staged[0][1]
    try:
        with _directory_lock(target.parent):
            for tmp, target in staged:  # target: the file named if a rename fails
                os.replace(tmp, target)
    except OSError as exc:
        _discard([tmp for tmp, _ in staged])
        raise OutputError(f"cannot write {target}: {os_reason(exc)}") from exc
    except BaseException:
        _discard([tmp for tmp, _ in staged])
        raise


def _discard(paths: Iterable[Path | None]) -> None:
    for tmp in paths:
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                log.debug("could not remove temporary file %s", tmp)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` itself, held by one dedup run at a time (POSIX flock
    on the directory's descriptor: nothing is left behind); where there is none, no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_writable(out_dir: Path) -> None:
    """Create ``out_dir`` if needed and prove a file can be written there.

    Called before the expensive work so that a bad ``--out`` fails in a second, not after an
    hour of encoding. A real write is the only reliable test (ACLs, read-only mounts, root).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"cannot write to {out_dir}: it is a file, not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".dedup-check-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write to {out_dir}: {os_reason(exc)}") from exc


def output_paths(out_dir: Path) -> list[Path]:
    """The files :func:`write_outputs` writes into ``out_dir``, in the order it writes them."""
    return [out_dir / name for name in (JSON_NAME, MARKDOWN_NAME, STORIES_NAME, HTML_NAME)]


def write_outputs(report: Report, out_dir: Path) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``stories.jsonl`` and ``report.html`` into
    ``out_dir``, each atomically.

    Of a view (:func:`dedup.report.view.select`), ``report.json`` is the whole report, the
    complete record, and the others show the view's stories. Each file is rendered into a
    temporary file beside it, a piece at a time (a million articles' report is gigabytes), and
    no file is renamed into place before every one is rendered. Returns the paths written.
    """
    out_dir = Path(out_dir)
    check_writable(out_dir)
    renderers: tuple[Callable[[Report], str | Iterable[str]], ...] = (
        lambda view: json_chunks(view.whole),
        to_markdown,
        jsonl_chunks,
        to_html,
    )
    # Every file staged (written and synced beside its target) before any is renamed: a full
    # disk or a failure halfway leaves the old set whole, never new JSON beside an old page.
    # A device or FIFO among them is written through as it comes: no rename is possible there.
    staged: list[tuple[Path, Path]] = []
    paths = output_paths(out_dir)
    try:
        for path, render in zip(paths, renderers, strict=True):
            if (done := _stage(path, render(report))) is not None:
                staged.append(done)
    except BaseException:
        _discard([tmp for tmp, _ in staged])
        raise
    if staged:
        _commit(staged)
    return paths
