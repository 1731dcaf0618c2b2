"""The examples in the package's docstring run as written."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import dedup

ROOT = Path(__file__).parent.parent


def test_the_package_docstring_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # they name samples/ from the repository's root
    result = doctest.testmod(dedup, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0
