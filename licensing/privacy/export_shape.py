"""The shape of a data-subject export (GDPR Art. 15 and 20): plain values, JSON and CSV.

Pure: rows in, bytes out. Binary columns (keyed hashes) are written as hex, times as ISO
8601, JSON columns as JSON (a JSON string inside a CSV cell), so every file opens in a
spreadsheet or a script without this product.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from licensing.privacy.register import RegisterEntry

Row = Mapping[str, Any]


def plain(value: Any) -> Any:
    """A column's value as JSON can hold it."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def as_json(rows: Sequence[Row]) -> bytes:
    return json.dumps(
        [{k: plain(v) for k, v in row.items()} for row in rows], indent=2, ensure_ascii=False
    ).encode()


def as_csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(plain(row.get(c))) for c in columns])
    return out.getvalue().encode()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def register_data(
    entries: Sequence[RegisterEntry], exported: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """Each category of the register covering an exported column: why it is processed,
    on which basis, who receives it and how long it is kept (as configured)."""
    data = []
    for entry in entries:
        columns = [
            f"{c.table}.{c.column}"
            for c in entry.columns
            if c.column in exported.get(c.table, ()) and c.kind is not None
        ]
        if not columns:
            continue
        category = entry.category
        data.append(
            {
                "category": category.code.value,
                "title": category.title,
                "purpose": category.purpose,
                "legal_basis": category.legal_basis,
                "recipients": list(category.recipients),
                "retention": category.retention.describe(),
                "end_of_retention": category.end_action.value,
                "columns": columns,
            }
        )
    return data


def readme(
    *,
    request_id: uuid.UUID,
    generated_at: datetime,
    counts: Mapping[str, int],
    withheld: Mapping[str, str],
    not_exported: Mapping[str, str],
) -> str:
    lines = [
        "Export of the personal data held about one customer (GDPR Art. 15 and 20).",
        f"Privacy request: {request_id}",
        f"Generated at: {generated_at.isoformat()}",
        "",
        "Each table is given twice: <table>.json and <table>.csv, one entry per row.",
        "register.json: the purpose, legal basis, recipients and retention of each",
        "category of data exported. recipients.json: the partners that were told about",
        "the customer's licenses, which fields and when last.",
        "audit_events: what staff and the system did about the customer, its licenses,",
        "their misuse cases and exceptions, legal holds on them and its privacy requests,",
        "with the reasons staff typed; approval_requests: second-admin requests to revoke",
        "its licenses, with their reasons. Who acted is left out (see below).",
        "Binary values (keyed hashes) are hexadecimal; times are ISO 8601 in UTC.",
        "",
        "Rows per table:",
        *(f"  {table}: {count}" for table, count in counts.items()),
        "",
        "Columns not exported:",
        *(f"  {column}: {why}" for column, why in withheld.items()),
        "",
        "Tables not exported:",
        *(f"  {table}: {why}" for table, why in not_exported.items()),
        "",
    ]
    return "\n".join(lines)
