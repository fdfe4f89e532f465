"""The record of processing (GDPR Art. 30) as text, JSON-ready data and Markdown.

``docs/privacy.md`` embeds the Markdown form between two markers and a test compares it
with ``licensing privacy register --markdown``, so the published record is the register.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from licensing.privacy.categories import Category, EndAction
from licensing.privacy.register import ClassifiedColumn, RegisterEntry

END_ACTIONS = {
    EndAction.PSEUDONYMISE: "pseudonymised (keyed hash; IPs keep their /24 or /48 network)",
    EndAction.DELETE: "deleted",
    EndAction.ANONYMISE: "anonymised",
    EndAction.PRUNE_BEHIND_CHECKPOINT: "pruned behind a signed checkpoint of the audit chain",
    EndAction.NONE: "nothing (no personal data)",
}


def end_of_life(category: Category) -> str:
    """What happens at the end of the period, and what a legal hold changes."""
    action = END_ACTIONS[category.end_action]
    if category.held_until_released:
        return f"{action}; under a legal hold, kept until the hold is released"
    return action


def _by_table(columns: Sequence[ClassifiedColumn]) -> list[tuple[str, list[ClassifiedColumn]]]:
    return [(table, list(group)) for table, group in groupby(columns, key=lambda c: c.table)]


def _column_label(column: ClassifiedColumn) -> str:
    return column.column if column.kind is None else f"{column.column} ({column.kind.value})"


def as_data(entries: Sequence[RegisterEntry]) -> dict[str, Any]:
    """The register as JSON-ready data; its keys are stable, for scripts."""
    return {
        "categories": [
            {
                "code": e.category.code.value,
                "title": e.category.title,
                "personal": e.category.is_personal,
                "purpose": e.category.purpose,
                "legal_basis": e.category.legal_basis,
                "recipients": list(e.category.recipients),
                "retention": {
                    "period": e.category.retention.period,
                    "unit": e.category.retention.unit and e.category.retention.unit.value,
                    "starts": e.category.retention.starts,
                    "setting": e.category.retention.setting,
                    "text": e.category.retention.describe(),
                },
                "end_action": e.category.end_action.value,
                "held_until_released": e.category.held_until_released,
                "tables": {
                    table: [{"column": c.column, "kind": c.kind and c.kind.value} for c in cols]
                    for table, cols in _by_table(e.columns)
                },
            }
            for e in entries
        ]
    }


def as_text(entries: Sequence[RegisterEntry]) -> str:
    """For a person at a terminal: a summary table, then each category in full."""
    rows = [
        (e.category.code.value, e.category.retention.describe(), e.category.end_action.value)
        for e in entries
    ]
    header = ("CATEGORY", "RETENTION", "AT THE END")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(0, "  ".join(v.ljust(w) for v, w in zip(header, widths, strict=True)).rstrip())
    for e in entries:
        c = e.category
        lines += [
            "",
            f"{c.code.value}: {c.title}",
            f"  purpose      {c.purpose}",
            f"  legal basis  {c.legal_basis}",
            f"  recipients   {'; '.join(c.recipients)}",
            f"  retention    {c.retention.describe()}"
            + (f" ({c.retention.setting})" if c.retention.setting else ""),
            f"  at the end   {end_of_life(c)}",
        ]
        for table, cols in _by_table(e.columns):
            lines.append(f"  {table}: {', '.join(_column_label(col) for col in cols)}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def as_markdown(entries: Sequence[RegisterEntry]) -> str:
    """What docs/privacy.md embeds: the categories, then the columns each one covers."""
    lines = [
        "| category | purpose | legal basis | recipients | retention | at the end |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries:
        c = e.category
        retention = c.retention.describe()
        if c.retention.setting:
            retention += f" (`{c.retention.setting}`)"
        cells = (c.title, c.purpose, c.legal_basis, "; ".join(c.recipients), retention)
        lines.append("| " + " | ".join(_cell(v) for v in (*cells, end_of_life(c))) + " |")
    for e in entries:
        lines += ["", f"### {e.category.title}", "", "| table | columns |", "| --- | --- |"]
        for table, cols in _by_table(e.columns):
            labels = ", ".join(_cell(_column_label(col)) for col in cols)
            lines.append(f"| `{table}` | {labels} |")
    return "\n".join(lines)
