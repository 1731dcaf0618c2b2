"""What the benches that run several checkouts side by side share (bench/prepare_stage.py,
bench/group_stage.py, bench/link_stage.py): each run's name in the output, and whether each
run gave the first one's digest."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any


def run_name(checkout: Path | str, taken: Collection[str]) -> str:
    """``checkout``'s name in the output, ``taken`` the names of the runs before it: a
    checkout named again (to take turns on a noisy machine) is a run of its own, never a
    second value under the first one's name."""
    return f"{checkout} (run {len(taken) + 1})" if str(checkout) in taken else str(checkout)


def mark_same_as_first(runs: Mapping[str, dict[str, Any]], field: str) -> None:
    """Set ``field`` of each run: whether its ``digest`` is the first run's."""
    first = next(iter(runs.values()))["digest"]
    for figures in runs.values():
        figures[field] = figures["digest"] == first
