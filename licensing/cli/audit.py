"""``licensing audit``: the hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import UTC_DATE, runtime, session, uses_database
from licensing.cli.output import emit_json, emit_record, emit_records, json_option

# The services (SQLAlchemy, PyJWT) are imported inside the commands: `licensing --help`
# and every other command should not pay for them.

audit = AppGroup("audit", help="The append-only, hash-chained audit log.")


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint from `licensing audit checkpoint`: the chain must still reach it.",
)
@click.option(
    "--jwks",
    "jwks_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust only the keys of this saved JWK Set, not the database's, for the checkpoint "
    "and the prune anchor. Repeat it for sets saved before a key rotation.",
)
@json_option
@uses_database
def audit_verify(checkpoint_file: Path | None, jwks_files: tuple[Path, ...], as_json: bool) -> None:
    """Check that no audit event was altered, removed or inserted; exit 1 if one was."""
    from licensing.services import audit as audit_log
    from licensing.services import audit_checkpoints

    trusted = _trusted_keys(jwks_files) if jwks_files else None
    head = None
    if checkpoint_file is not None:
        token = checkpoint_file.read_text(encoding="ascii", errors="replace")
        try:
            head = audit_checkpoints.read(session(), token, trusted=trusted).head
        except audit_checkpoints.CheckpointInvalid as exc:
            raise click.ClickException(f"{checkpoint_file}: {exc.detail}") from None
    report = audit_log.verify(session(), checkpoint=head, trusted=trusted, sealer=runtime().sealer)
    record: dict[str, Any] = {
        "intact": report.intact,
        "events": report.events,
        "first_broken_seq": report.first_broken_seq,
        "problem": report.problem,
    }
    if head is not None:
        record["checkpoint_seq"] = report.checkpoint_seq
    if report.pruned_through is not None and report.pruned_at is not None:
        record["pruned"] = f"events 1 to {report.pruned_through} on {report.pruned_at:%Y-%m-%d}"
    if as_json and report.notes:
        record["notes"] = list(report.notes)
    emit_record(record, as_json=as_json)
    if not as_json:
        for note in report.notes:
            click.echo(f"note: {note}")
    if not report.intact:
        raise click.exceptions.Exit(1)


def _trusted_keys(paths: tuple[Path, ...]) -> dict[str, bytes]:
    """The keys of every saved JWK Set given: a kid names one key, so sets merge."""
    from licensing.services import audit_checkpoints

    keys: dict[str, bytes] = {}
    for path in paths:
        try:
            keys |= audit_checkpoints.trusted_keys(_json_file(path))
        except audit_checkpoints.CheckpointInvalid as exc:
            raise click.ClickException(f"{path}: {exc.detail}") from None
    return keys


@audit.command("checkpoint")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the checkpoint to this file (mode 0600) instead of printing it.",
)
@json_option
@uses_database
def audit_checkpoint(output: Path | None, as_json: bool) -> None:
    """Sign the chain's newest event, so that `audit verify --checkpoint` finds a cut chain."""
    from licensing.services import audit_checkpoints
    from licensing.timeutil import utcnow

    settings = runtime().settings
    # Asked for by hand, so the whole chain is verified, and it must still reach the
    # newest checkpoint the periodic job wrote.
    previous = audit_checkpoints.newest_in_directory(session(), settings.audit_checkpoint_dir)
    checkpoint = audit_checkpoints.issue(
        session(), runtime().sealer, issuer=settings.issuer, now=utcnow(), previous=previous
    )
    if output is not None:
        audit_checkpoints.write_file(output, checkpoint.token, replace=True)
    elif not as_json:
        click.echo(checkpoint.token)
        return
    record: dict[str, Any] = {
        "seq": checkpoint.head.seq,
        "hash": checkpoint.head.hash,
        "events": checkpoint.head.events,
        "issued_at": checkpoint.issued_at,
        "kid": checkpoint.kid,
    }
    if output is not None:
        record["file"] = str(output)
    if as_json:
        emit_json(record | ({} if output else {"checkpoint": checkpoint.token}))
    else:
        emit_record(record, as_json=False)


@audit.command("list")
@click.option("--since", type=UTC_DATE, help="Only events at or after this date or time.")
@click.option("--actor", help="Only events by this actor, e.g. cli:alice.")
@click.option("--subject", help="Only events about this subject: its id, or TYPE:ID.")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most N."
)
@json_option
@uses_database
def audit_list(
    since: datetime | None, actor: str | None, subject: str | None, limit: int, as_json: bool
) -> None:
    """List audit events, newest first."""
    from licensing.services import audit as audit_log

    events = audit_log.list_events(
        session(), since=since, actor=actor, subject=subject, limit=limit
    )
    rows = [
        {
            "seq": event.seq,
            "occurred_at": event.occurred_at,
            "actor": event.actor,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "data": event.data,
        }
        for event in events
    ]
    emit_records(
        rows,
        ["seq", "occurred_at", "actor", "action", "subject_type", "subject_id", "data"],
        as_json=as_json,
    )


def _json_file(path: Path) -> object:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise click.ClickException(f"{path} is not a JSON file") from None
