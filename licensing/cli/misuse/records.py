"""How the misuse commands show cases, their events and exceptions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import click

from licensing.misuse.ladder import ProposedStep
from licensing.models.misuse import MisuseCase, MisuseCaseEvent, MisuseException
from licensing.services.misuse_exceptions import state


def case(c: MisuseCase, *, key_id: str | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "license_id": c.license_id,
        "license": key_id,
        "rule": c.rule,
        "severity": c.severity,
        "status": c.status,
        "summary": c.summary,
        "assignee": c.assignee,
        "first_seen": c.first_seen,
        "last_seen": c.last_seen,
        "opened_at": c.opened_at,
        "updated_at": c.updated_at,
        "decided_at": c.decided_at,
        "decided_by": c.decided_by,
        "decision_reason": c.decision_reason,
        "escalation_step": c.escalation_step,
        "escalated_at": c.escalated_at,
    }


def proposal(step: ProposedStep | None, why_none: str | None) -> dict[str, Any]:
    if step is None:
        return {"step": None, "due_at": None, "due": False, "why_none": why_none}
    return {"step": step.step, "due_at": step.due_at, "due": step.due, "why_none": None}


def event(e: MisuseCaseEvent) -> dict[str, Any]:
    return {"at": e.at, "actor": e.actor, "kind": e.kind, "detail": e.detail}


def exception(x: MisuseException, now: datetime) -> dict[str, Any]:
    return {
        "id": x.id,
        "license_id": x.license_id,
        "rule": x.rule,
        "kind": x.kind,
        "state": state(x, now),
        "reason": x.reason,
        "declared_by": x.declared_by,
        "declared_at": x.declared_at,
        "ends_at": x.ends_at,
        "ended_at": x.ended_at,
        "ended_by": x.ended_by,
        "covered_evidence": x.covered_evidence,
    }


def _scalar(value: Any) -> str:
    return "-" if value is None else str(value)


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_flat(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return "{" + inline(value) + "}"
    return "-" if value is None or value == "" else str(value)


# PostgreSQL's JSONB does not keep the rule's key order, so the order is ours: what an
# entry is about first, then alphabetical, the same on every backend.
_FIRST = ("activation_id", "server", "network", "version", "key_id", "day", "at", "event")
# The explanation the rule ruled out reads best after the figures it explains.
_LAST = ("ruled_out",)


def _ordered(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    def rank(key: str) -> tuple[int, int, str]:
        if key in _FIRST:
            return (0, _FIRST.index(key), key)
        return (2, 0, key) if key in _LAST else (1, 0, key)

    return sorted(data.items(), key=lambda item: rank(item[0]))


def inline(entry: Mapping[str, Any]) -> str:
    """One evidence entry on one line: ``key=value`` pairs, what it is about first."""
    return " ".join(f"{key}={_flat(value)}" for key, value in _ordered(entry))


def readable(data: Mapping[str, Any], indent: int = 2) -> Iterator[str]:
    """Nested evidence as indented lines: scalars inline, lists one entry a line."""
    pad = " " * indent
    for key, value in _ordered(data):
        if isinstance(value, Mapping):
            yield f"{pad}{key}:"
            yield from readable(value, indent + 2)
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            yield f"{pad}{key}: ({len(value)})"
            for entry in value:
                yield f"{pad}  - " + (inline(entry) if isinstance(entry, Mapping) else str(entry))
        elif isinstance(value, list):
            yield f"{pad}{key}: " + (", ".join(str(v) for v in value) or "-")
        else:
            yield f"{pad}{key}: {_scalar(value)}"


def echo_section(title: str, lines: list[str]) -> None:
    click.echo()
    click.echo(f"{title}:")
    for line in lines or ["  (none)"]:
        click.echo(line)
