"""Errors the library raises. Messages are written for users, in the library's own terms: the
CLI prints them with the flag of the setting they concern (:attr:`DedupError.setting`).

Exit codes (see README): 2 for a user's input or usage mistake, 1 for a failure to do the work.
"""

from __future__ import annotations


class DedupError(Exception):
    """Base of every error dedup raises on purpose.

    ``setting`` names the :class:`~dedup.config.Settings` field the error is about, if any (or
    the option of the call that raised it, such as a plot's): the library speaks of its own
    settings, and the CLI names the flag that sets it."""

    exit_code = 1

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class InputError(DedupError):
    """The input cannot be used: a missing path, nothing usable in the corpus, a bad option."""

    exit_code = 2


class ModelError(DedupError):
    """The embedding model cannot be loaded or fails while encoding."""

    exit_code = 1


class EngineError(DedupError):
    """The engine that embeds cannot run: not installed, or its cluster cannot be reached."""

    exit_code = 1


class OutputError(DedupError):
    """A report cannot be written where the user asked."""

    exit_code = 1


class ScratchError(DedupError):
    """The scratch files a big run keeps its pairs in cannot be made, written or read."""

    exit_code = 1


def one_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line (whitespace collapsed), cut at ``limit`` characters;
    its type's name when it has no message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def os_reason(exc: OSError) -> str:
    """What the system said about a failed file operation, without the errno and path."""
    return exc.strerror or one_line(exc)
