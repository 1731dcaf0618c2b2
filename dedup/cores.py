"""The cores a run may use: how many, and work spread over them in forked processes (what the
per-article pass and a static model's embedding share; the pair kernels' threads count the
same cores)."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
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


#: Parts each forked worker of :func:`in_processes` has handed to it and unfinished at most,
#: when this process works too (at 2, the worker of a per-article pass sat idle a fifth of
#: the time, waiting for this process to hand it the next part).
AHEAD = 4


@contextmanager
def _one_thread_told() -> Iterator[None]:
    """``TOKENIZERS_PARALLELISM=false`` while processes are forked (see :func:`in_processes`);
    this process keeps its tokenizer's threads."""
    told = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        yield
    finally:
        if told is None:
            del os.environ["TOKENIZERS_PARALLELISM"]
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = told


@contextmanager
def forked_now(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` processes forked now, for a pass :func:`in_processes` runs later (given
    them as ``pool``), shut down on leaving or once that pass is done; None where fewer than
    two are asked for or the system does not fork.

    Forked before this process reads a corpus, they never share its pages: a worker forked
    after it holds every page of the corpus as it was, for as long as it lives, while this
    process lets each article go once it is cleaned (sampled at 10^6 articles, forked after:
    each of two workers grew from 1.1 to 1.96 GB by the pass's end)."""
    if workers < 2 or not forks():
        yield None
        return
    gc.freeze()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        with _one_thread_told():
            pool.submit(int).result()  # every worker forked here
    finally:
        gc.unfreeze()
    with pool:
        yield pool


def in_processes(
    work: Callable[[A], R],
    parts: Sequence[A],
    workers: int,
    done: Callable[[int], None],
    *,
    here: bool = False,
    pool: ProcessPoolExecutor | None = None,
) -> Iterator[R]:
    """``work(part)`` for each of ``parts``, in order, in ``workers`` processes forked where
    the system can (so they start with what this process has loaded: a model, a corpus they
    read in place); ``done(k)`` is called once part ``k``'s result is given.

    ``here``: this process is one of the ``workers``. Whoever is free takes the next part:
    each forked worker has up to :data:`AHEAD` parts handed to it, and this process takes the
    next one itself rather than wait for a result; a part it did waits, if it must, for the
    earlier ones to be given. One process fewer is forked: one fewer copy of the pages a
    worker touches (reading an article writes its reference counts: sampled at 10^6 articles,
    1.4 GB a worker embedding). What this process keeps from the work (a cache, a store of
    words) is kept for the rest of the run, so it is for work that keeps little: after the
    per-article pass, its caches held 570 MiB more through the later stages at 10^5.

    A forked worker shares this process' memory until it writes to it, and the garbage
    collector of a worker would write to every object it has (a million articles): frozen,
    they are left alone, and the pages stay shared. A Rust tokenizer (``tokenizers``) that has
    used its own threads here has none in a forked worker: told before the fork that it has
    one thread, each worker tokenizes on its one core (untold, one worker of a test hung
    while the other did every part; the library's own remedy is a warning in every worker).

    ``pool``: workers forked before (:func:`forked_now`), used instead, and shut down once
    the parts are done."""
    forked = max(1, workers - 1) if here else workers
    handed: dict[int, Future[R]] = {}  # parts handed to the forked workers, not yet given
    kept: dict[int, R] = {}  # parts done here, not yet given
    given = 0  # parts handed out, to the workers or kept here
    frozen = pool is None  # workers forked before share nothing made since
    if pool is None:
        context = multiprocessing.get_context("fork" if forks() else None)
        pool = ProcessPoolExecutor(forked, mp_context=context)
        gc.freeze()
    try:
        with pool:

            def hand_out() -> None:  # every part at once when this process takes none
                nonlocal given
                busy = sum(not f.done() for f in handed.values())
                while given < len(parts) and (busy < AHEAD * forked or not here):
                    handed[given] = pool.submit(work, parts[given])
                    given, busy = given + 1, busy + 1

            with _one_thread_told():
                hand_out()  # every worker forked here, unless forked before
            k = 0
            while k < len(parts):
                if k in kept:
                    yield kept.pop(k)
                elif not here or handed[k].done() or given == len(parts):
                    yield handed.pop(k).result()
                else:  # part k is still a worker's: do the next one here meanwhile
                    kept[given] = work(parts[given])
                    given += 1
                    hand_out()
                    continue
                done(k)
                k += 1
                hand_out()
    finally:
        if frozen:
            gc.unfreeze()
