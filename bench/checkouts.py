"""What the benches that run several checkouts side by side share (bench/prepare_stage.py,
bench/group_stage.py, bench/link_stage.py, bench/weigh_lexical.py): each run's name in the
output, whether each run gave the first one's digest, and (:func:`each_checkout`) the run of
a script once per checkout, each in a fresh process; in that process, one call's time and
peak memory (:func:`measured`) and a digest of what it made (:func:`digest_of`)."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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


def each_checkout(
    script: str, args: Sequence[str], checkouts: Sequence[Path], same: str
) -> dict[str, dict[str, Any]]:
    """``script args --one RESULT`` once per checkout, in turn, each in a fresh process with
    the checkout first on ``PYTHONPATH`` and a directory of its own to work in; the figures
    each wrote to ``RESULT`` (JSON), by run, with ``same`` set by :func:`mark_same_as_first`."""
    runs: dict[str, dict[str, Any]] = {}
    for checkout in checkouts:
        env = {**os.environ, "PYTHONPATH": str(Path(checkout).resolve())}
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "result.json"
            command = [sys.executable, script, *args, "--one", str(result)]
            subprocess.run(command, check=True, env=env, cwd=tmp)
            figures = json.loads(result.read_text())
        runs[run_name(checkout, runs)] = figures
    mark_same_as_first(runs, same)
    return runs


def rss(key: str) -> float:
    """This process' ``VmRSS`` or ``VmHWM`` (its peak), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {key} in /proc/self/status")


def measured(call: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """``call()``, and its wall and CPU seconds and its peak RSS over what this process held
    before it (``VmHWM``, reset through ``/proc/self/clear_refs``), read as it returns."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    base, cpu, wall = rss("VmRSS"), time.process_time(), time.perf_counter()
    out = call()
    figures = {
        "wall_seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "peak_mib_over_loaded": round(rss("VmHWM") - base),
    }
    return out, figures


def digest_of(arrays: Iterable[Any]) -> str:
    """A short digest of numpy arrays' types and bytes, read in place."""
    import numpy as np

    digest = hashlib.sha1()
    for array in arrays:
        digest.update(array.dtype.str.encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]
