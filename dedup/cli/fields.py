"""The ``fields`` setting from the options that name record fields: ``--field NAME=COLUMN``
(repeatable) and ``--id-field``, ``--title-field``, ``--text-field``, ``--date-field``."""

from __future__ import annotations

from typing import Any

import typer

from dedup.config import RECORD_FIELDS

#: The options that name one record field each, and that field.
FIELD_OPTIONS = {
    "id_field": "id",
    "title_field": "title",
    "text_field": "text",
    "date_field": "published",
}


def record_fields(values: dict[str, Any], given: frozenset[str]) -> dict[str, str] | None:
    """The ``fields`` setting from ``--field NAME=COLUMN`` and the ``--*-field COLUMN``
    options (taken out of ``values``), or None when a command has none of them.

    A field named twice is a usage error, unless one of the two comes from the environment:
    then the command line's wins.
    """
    present = [name for name in ("fields", *FIELD_OPTIONS) if name in values]
    if not present:
        return None
    named: list[tuple[str, str, str]] = []  # (field, column, the flag that named it)
    for item in values.pop("fields", None) or ():
        field, sep, column = item.partition("=")
        field = field.strip()
        if not sep:
            raise typer.BadParameter(f"expected NAME=COLUMN, got {item!r}", param_hint="--field")
        if field not in RECORD_FIELDS:
            raise typer.BadParameter(
                f"no record field {field!r}: the fields are {', '.join(RECORD_FIELDS)}",
                param_hint="--field",
            )
        named.append((field, column, "fields"))
    for option, field in FIELD_OPTIONS.items():
        column = values.pop(option, None)
        if column is not None:
            named.append((field, column, option))
    chosen: dict[str, tuple[str, str]] = {}
    # Those from the environment first: the command line's replace them.
    for field, column, option in sorted(named, key=lambda n: n[2] in given):
        flag = _flag(option)
        if not column.strip():
            raise typer.BadParameter(f"no column named for the {field} field", param_hint=flag)
        if field in chosen and chosen[field][0] != column.strip():
            first_column, first = chosen[field]
            if (first in given) == (option in given):
                raise typer.BadParameter(
                    f"the {field} field is named twice: {first_column!r} ({_flag(first)}) and"
                    f" {column.strip()!r}",
                    param_hint=flag,
                )
        chosen[field] = (column.strip(), option)
    return {field: column for field, (column, _) in chosen.items()}


def _flag(name: str) -> str:
    return "--field" if name == "fields" else "--" + name.replace("_", "-")
