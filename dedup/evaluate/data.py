"""Labelled data for evaluation: graded article pairs and gold story labels, read from CSV,
JSON or JSONL with the record readers and CSV helpers they share."""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedup.errors import InputError

PAIR_REQUIRED = (("pair_id", "id"), ("text1",), ("text2",), ("overall",))
LABEL_REQUIRED = (("id",), ("story",))


@dataclass(frozen=True)
class Pair:
    """Two articles and their graded similarity: ``overall`` 1 same story ... 4 unrelated."""

    id: str
    text1: str
    text2: str
    lang1: str | None
    lang2: str | None
    overall: float
    title1: str = ""
    title2: str = ""


def _allow_long_csv_fields() -> None:
    # Article bodies easily pass csv's default limit of 131,072 characters per field.
    with contextlib.suppress(OverflowError):
        csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


def _missing(present: Iterable[str], required: Sequence[tuple[str, ...]]) -> list[str]:
    """The required keys absent from ``present``; each requirement lists accepted spellings."""
    have = set(present)
    return [names[0] for names in required if not have.intersection(names)]


def read_records(
    path: Path, what: str, required: Sequence[tuple[str, ...]]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(where, record)`` for every record of a CSV or JSONL file; ``where`` is ``path:line``.

    ``required`` keys must be CSV columns, or keys of every JSON record.
    """
    if not path.is_file():
        setting = "labels" if what == "labels" else None  # the option of load_labels' path
        raise InputError(f"{what} file not found: {path}", setting=setting)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if path.suffix.lower() == ".csv":
                _allow_long_csv_fields()
                # strict: a quote never closed is an error, not the rest of the file in a field
                reader = csv.DictReader(fh, strict=True)
                start = 1  # the line the row being read starts on (a field may span lines)
                try:
                    missing = _missing(reader.fieldnames or (), required)
                    if missing:
                        raise InputError(f"{path}: missing column {', '.join(missing)}")
                    start = reader.line_num + 1
                    for row in reader:
                        yield f"{path}:{start}", row
                        start = reader.line_num + 1
                except csv.Error as exc:
                    reason = (
                        "a quote opened in this row is never closed"
                        if "unexpected end of data" in str(exc)
                        else str(exc)
                    )
                    raise InputError(f"{path}:{start}: bad CSV: {reason}") from exc
                return
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: not valid JSON: {exc.msg}") from exc
                if not isinstance(record, dict):
                    raise InputError(f"{where}: expected a JSON object")
                missing = _missing(record, required)
                if missing:
                    raise InputError(f"{where}: missing {', '.join(missing)}")
                yield where, record
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_JSON_TYPES = {list: "a list", dict: "an object", bool: "true or false", int: "a number"}


def _field(where: str, record: Mapping[str, Any], key: str, *, ids: bool = False) -> str:
    """``record[key]`` as text: a string (a number too where ``ids``) or null; any other JSON
    type is an error naming the line and the field, never its ``str()`` scored as text."""
    value = record.get(key)
    if value is None or isinstance(value, str):
        return _text(value)
    if ids and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    kind = _JSON_TYPES.get(type(value), "a number" if isinstance(value, float) else "not text")
    raise InputError(f"{where}: {key} must be a string, got {kind}")


def load_pairs(path: Path) -> list[Pair]:
    """Graded pairs from JSONL or CSV with ``pair_id`` (or ``id``), ``text1``, ``text2``,
    ``overall`` and optionally ``lang1``, ``lang2``, ``title1``, ``title2``."""
    path = Path(path)
    pairs: list[Pair] = []
    seen: set[str] = set()
    for where, record in read_records(path, "pairs", PAIR_REQUIRED):
        pair_id = _field(where, record, "pair_id" if "pair_id" in record else "id", ids=True)
        pair_id = pair_id.strip()
        if not pair_id:
            raise InputError(f"{where}: empty pair_id")
        if pair_id in seen:
            raise InputError(f"{where}: pair_id {pair_id!r} appears twice")
        seen.add(pair_id)
        try:
            if isinstance(record["overall"], bool):
                raise TypeError("true or false is no grade")
            overall = float(record["overall"])
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: overall must be a number, got {record['overall']!r}"
            ) from None
        if not math.isfinite(overall):
            raise InputError(f"{where}: overall must be a finite number")
        pairs.append(
            Pair(
                id=pair_id,
                text1=_field(where, record, "text1"),
                text2=_field(where, record, "text2"),
                lang1=_field(where, record, "lang1").strip() or None,
                lang2=_field(where, record, "lang2").strip() or None,
                overall=overall,
                title1=_field(where, record, "title1").strip(),
                title2=_field(where, record, "title2").strip(),
            )
        )
    if not pairs:
        raise InputError(f"no pairs in {path}")
    return pairs


def load_labels(path: Path) -> dict[str, str]:
    """Gold stories, article id -> story: CSV (``id,story``), a JSON object (id -> story)
    or JSONL (``{"id": ..., "story": ...}`` a line)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json", ".jsonl"):
        raise InputError(f"labels file must be .csv, .json or .jsonl: {path}", setting="labels")
    labels: dict[str, str] = {}

    def add(where: str, article: Any, story: Any) -> None:
        key, value = _text(article).strip(), _text(story).strip()
        if not key:
            raise InputError(f"{where}: empty id")
        if not value:  # an unlabelled article: not scored
            return
        if labels.get(key, value) != value:
            raise InputError(f"{where}: id {key!r} has two stories, {labels[key]!r} and {value!r}")
        labels[key] = value

    if suffix == ".json":
        if not path.is_file():
            raise InputError(f"labels file not found: {path}", setting="labels")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a JSON object of id -> story ({exc})") from exc
        except OSError as exc:
            raise InputError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object of id -> story")
        for article, story in data.items():
            if isinstance(story, (dict, list)):
                raise InputError(f"{path}: the story of {article!r} must be a string")
            add(str(path), article, story)
    else:
        for where, record in read_records(path, "labels", LABEL_REQUIRED):
            add(
                where,
                _field(where, record, "id", ids=True),
                _field(where, record, "story", ids=True),
            )
    if not labels:
        raise InputError(f"no labels in {path}")
    return labels


__all__ = ["LABEL_REQUIRED", "PAIR_REQUIRED", "Pair", "load_labels", "load_pairs"]
