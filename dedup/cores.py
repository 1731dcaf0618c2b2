"""The cores a run may use: how many, and work spread over them in forked processes (what the
per-article pass and a static model's embedding share; the pair kernels' threads count the
same cores)."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

A = TypeVar("A")
R = TypeVar("R")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system tells it (a
    container's or ``taskset``'s share), else every core."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def forks() -> bool:
    """Whether this system starts a process by forking this one (not Windows), so that what
    this process holds is the worker's without being sent."""
    return "fork" in multiprocessing.get_all_start_methods()


def in_processes(
    work: Callable[[A], R], parts: Sequence[A], workers: int, done: Callable[[int], None]
) -> Iterator[R]:
    """``work(part)`` for each of ``parts``, in order, in a pool of ``workers`` processes,
    forked where the system can (so they start with what this process has loaded: a model, a
    corpus they read in place); ``done(k)`` is called once part ``k``'s result is given.

    A forked worker shares this process' memory until it writes to it, and the garbage
    collector of a worker would write to every object it has (a million articles): frozen,
    they are left alone, and the pages stay shared. A Rust tokenizer (``tokenizers``) that has
    used its own threads here has none in a forked worker: told before the fork that it has
    one thread, each worker tokenizes on its one core (untold, one worker of a test hung
    while the other did every part; the library's own remedy is a warning in every worker)."""
    context = multiprocessing.get_context("fork" if forks() else None)
    gc.freeze()
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            told = os.environ.get("TOKENIZERS_PARALLELISM")
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
            try:
                results = pool.map(work, parts)  # every worker forked here
            finally:  # this process keeps its tokenizer's threads
                if told is None:
                    del os.environ["TOKENIZERS_PARALLELISM"]
                else:
                    os.environ["TOKENIZERS_PARALLELISM"] = told
            for k, result in enumerate(results):
                yield result
                done(k)
    finally:
        gc.unfreeze()
