"""Taking articles out of a story store (``dedup store remove``): an article read by mistake
(a report read as input, a test record) must not stay in its story for good.

One transaction, recorded as a run of its own: the articles go; a story left without articles
goes too (its number is not given again); a story left with one article is described as a
batch run describes one (similarity 1, no cohesion); a story left with more keeps its members'
order by their similarity to its centre, and its cohesion is unknown until the next run that
loads the story measures it again on its remaining articles (:mod:`dedup.store`). Each story
that lost an article is ``revised`` in the run, so ``dedup report --changed`` lists it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from dedup.errors import InputError
from dedup.store import Store
from dedup.store.schema import now, story_name, transaction
from dedup.store.view import CHUNK, last_run

#: Ids a removal run names in its warning; the rest are counted.
NAMED = 5


class Removed(NamedTuple):
    """What a removal did: the articles taken out, and each story that lost one with the
    number of articles it has left (0: the story is gone)."""

    articles: tuple[str, ...]
    stories: dict[str, int]


def remove_articles(store: Store, ids: Sequence[str]) -> Removed:
    """Remove the articles ``ids`` from ``store`` in one transaction (see the module's notes).
    An id the store does not hold is an InputError, and nothing is removed."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise InputError("name the articles to remove (their ids, as the report shows them)")
    conn = store.connection
    with transaction(conn, store.path, store.wait):
        story_of: dict[str, int] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"SELECT id, story FROM articles WHERE id IN ({marks})", chunk)
            story_of.update((str(i), int(s)) for i, s in rows)
        missing = [i for i in wanted if i not in story_of]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise InputError(
                f"no article {missing[0]!r}{more} in store {store.path}: nothing removed"
            )
        run = (last_run(conn) or 0) + 1
        conn.executemany("DELETE FROM articles WHERE id = ?", [(i,) for i in wanted])
        left = {story: _redescribe(store, story, run) for story in sorted(set(story_of.values()))}
        _record(store, run, wanted, left)
    return Removed(tuple(wanted), {story_name(s): n for s, n in left.items()})


def _redescribe(store: Store, story: int, run: int) -> int:
    """What can be said of ``story`` without its removed articles, without representing them
    again; how many articles it has left."""
    conn = store.connection
    members = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM articles WHERE story = ? ORDER BY rank, id", (story,)
        )
    ]
    if not members:
        conn.execute("DELETE FROM story_runs WHERE story = ?", (story,))
        conn.execute("DELETE FROM stories WHERE id = ?", (story,))
        return 0
    conn.executemany(
        "UPDATE articles SET rank = ? WHERE id = ?", [(k, i) for k, i in enumerate(members)]
    )
    if len(members) == 1:
        conn.execute("UPDATE articles SET similarity = 1.0 WHERE id = ?", (members[0],))
    conn.execute(
        "UPDATE stories SET size = :n, cohesion_min = NULL, cohesion_mean = NULL,"
        " first_day = (SELECT min(day) FROM articles WHERE story = :s),"
        " last_day = (SELECT max(day) FROM articles WHERE story = :s),"
        " last_run = :r WHERE id = :s",
        {"n": len(members), "s": story, "r": run},
    )
    return len(members)


def _record(store: Store, run: int, ids: Sequence[str], left: dict[int, int]) -> None:
    """The removal as a run: the last run's settings (it grouped nothing), what it removed."""
    conn = store.connection
    last = conn.execute(
        "SELECT day, version, backend, model, threshold, related_threshold, digest"
        " FROM runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    day, version, backend, model, threshold, related, digest = last or (
        None,
        "",
        "none",
        None,
        0.0,
        0.0,
        "",
    )
    named = ", ".join(ids[:NAMED]) + (f" and {len(ids) - NAMED} more" if len(ids) > NAMED else "")
    warning = f"removed {len(ids)} article(s) from the store: {named}"
    conn.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
        (
            run,
            now(),
            day,
            version,
            backend,
            model,
            threshold,
            related,
            digest,
            "[]",
            json.dumps([warning], ensure_ascii=False),
        ),
    )
    conn.executemany(
        "INSERT INTO story_runs VALUES (?, ?, 'revised', '[]')",
        [(run, story) for story, n in left.items() if n],
    )
