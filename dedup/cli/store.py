"""The store commands: ``dedup store remove``."""

from __future__ import annotations

from typing import Annotated

import typer

from dedup.cli.options import QuietOpt, StoreOpt, VerboseOpt
from dedup.cli.shell import Command, command_group, setup_logging

store_app = command_group(
    "Look after a story store.",
    "dedup store remove --store stories.db sha256:4be1c2d07a1f9e3c5b6d8a20",
)


@store_app.command(
    "remove",
    cls=Command,
    epilog="Example: dedup store remove --store stories.db sha256:4be1c2d07a1f9e3c5b6d8a20",
)
def remove_cmd(
    ids: Annotated[
        list[str],
        typer.Argument(
            metavar="ID...",
            help="Ids of the articles to remove, as the report shows them.",
            show_default=False,
        ),
    ],
    store: StoreOpt = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = 0,
) -> None:
    """Remove articles from a story store, in one transaction: a story left without articles
    goes, the others are revised (`dedup report --changed` lists them). An id the store does
    not hold removes nothing."""
    setup_logging(verbose, quiet)
    from dedup.store import Store
    from dedup.store.remove import remove_articles

    if store is None:
        raise typer.BadParameter("name the story store", param_hint="--store")
    with Store(store, create=False) as opened:
        removed = remove_articles(opened, ids)
    if quiet:
        return
    stories = ", ".join(
        f"{name} {'is gone' if left == 0 else f'has {left} left'}"
        for name, left in sorted(removed.stories.items())
    )
    typer.echo(f"Removed {len(removed.articles)} article(s) from {store}: {stories}", err=True)
