"""Settings: each value checked where it is made, and the rules read from them."""

from __future__ import annotations

import pytest

from dedup.config import Settings
from dedup.errors import InputError


def test_settings_validate_the_neighbour_options() -> None:
    with pytest.raises(InputError, match="unknown neighbours"):
        Settings(neighbours="hnsw")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="window days"):
        Settings(window_days=-1)
    with pytest.raises(InputError, match="neighbour k"):
        Settings(neighbour_k=0)


def test_a_run_links_down_to_the_lower_of_its_related_and_grouping_thresholds() -> None:
    thresholds = {"hybrid": 0.6}
    assert Settings().link_floor("hybrid", thresholds) == pytest.approx(0.6 * 0.45)
    assert Settings(related_threshold=0.7).link_floor("hybrid", thresholds) == 0.6
    assert Settings(threshold=0.5, related_threshold=0.3).link_floor("hybrid", thresholds) == 0.3
