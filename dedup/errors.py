"""Errors the library raises. Messages are written for users: the CLI prints them as-is.

Exit codes (see README): 2 for a user's input or usage mistake, 1 for a failure to do the work.
"""

from __future__ import annotations


class DedupError(Exception):
    """Base of every error dedup raises on purpose."""

    exit_code = 1


class InputError(DedupError):
    """The input cannot be used: a missing path, nothing usable in the corpus, a bad option."""

    exit_code = 2


class ModelError(DedupError):
    """The embedding model cannot be loaded or fails while encoding."""

    exit_code = 1


class OutputError(DedupError):
    """A report cannot be written where the user asked."""

    exit_code = 1
