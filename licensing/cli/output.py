"""Printing records for people (aligned columns) or for scripts (``--json``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from licensing.timeutil import rfc3339

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False))


def emit_records(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool
) -> None:
    """A list of records: a table with ``columns``, or every field as a JSON array."""
    if as_json:
        emit_json(list(rows))
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def emit_record(row: Mapping[str, Any], *, as_json: bool) -> None:
    """One record: ``field: value`` lines, or a JSON object."""
    if as_json:
        emit_json(row)
        return
    width = max(len(key) for key in row)
    for key, value in row.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}")
