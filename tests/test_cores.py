"""Work shared between this process and forked ones (``dedup.cores.in_processes``)."""

from __future__ import annotations

import os
import time

import pytest

from dedup.cores import forks, in_processes


def _slow_square(part: int) -> tuple[int, int]:
    if part == 13:
        raise ValueError("part 13 breaks")
    time.sleep(0.02)
    return part * part, os.getpid()


@pytest.mark.skipif(not forks(), reason="processes are forked only where the system forks")
def test_parts_are_given_in_order_each_once_by_this_process_and_a_forked_one() -> None:
    """Whoever is free takes the next part; each result is given in the parts' order, and
    ``done(k)`` called right after part ``k``'s, whichever process did it."""
    events: list[tuple[str, int]] = []
    results = []
    noted = lambda k: events.append(("done", k))  # noqa: E731
    for square, pid in in_processes(_slow_square, range(13), 2, noted, here=True):
        events.append(("given", len(results)))
        results.append((square, pid))
    assert [square for square, _ in results] == [k * k for k in range(13)]
    assert events == [(what, k) for k in range(13) for what in ("given", "done")]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids and len(pids) == 2


@pytest.mark.skipif(not forks(), reason="processes are forked only where the system forks")
def test_a_part_that_fails_fails_the_work_whichever_process_took_it() -> None:
    """Raised as soon as it is met: where this process took the part while an earlier one
    was still a worker's, before the earlier ones are given; no later part is given."""
    done: list[int] = []
    with pytest.raises(ValueError, match="part 13 breaks"):
        for _ in in_processes(_slow_square, range(20), 2, done.append, here=True):
            pass
    assert done == list(range(len(done))) and len(done) <= 13


@pytest.mark.skipif(not forks(), reason="processes are forked only where the system forks")
def test_without_this_process_every_part_is_a_forked_workers() -> None:
    results = list(in_processes(_slow_square, range(9), 2, lambda k: None))
    assert [square for square, _ in results] == [k * k for k in range(9)]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
