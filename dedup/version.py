"""The installed version of dedup, for the report and ``--version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dedup")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
