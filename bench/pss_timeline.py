"""A command's memory over time, process by process: the PSS of it and each of its workers,
sampled every half second, beside the lines it logs, each with its second since the start.

    .venv/bin/python bench/pss_timeline.py -- .venv/bin/python -m dedup cluster CORPUS \
        --model MODEL --backend hybrid --window-days 7 --no-cache --out DIR -v > timeline.txt

bench/million.py gives each stage's peak for the whole tree; this says which process holds
it and when within the stage (a worker of the per-article pass, a spike of the search). Lines
``SECONDS total=MIB MIB MIB ...`` (the command first, then its workers) and ``SECONDS LOG
line``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from million import own_pss_mib, tree


def main() -> None:
    command = sys.argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise SystemExit(__doc__)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            each = [round(own_pss_mib(p)) for p in tree(proc.pid)]
            line = " ".join(map(str, each))
            print(f"{time.perf_counter() - start:7.1f} total={sum(each):6d} {line}", flush=True)
            time.sleep(0.5)

    threading.Thread(target=sample, daemon=True).start()
    assert proc.stderr is not None
    for line in proc.stderr:
        print(f"{time.perf_counter() - start:7.1f} LOG {line.rstrip()}", flush=True)
    raise SystemExit(proc.wait())


if __name__ == "__main__":
    main()
