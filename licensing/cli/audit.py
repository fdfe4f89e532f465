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
    "jwks_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust only the keys of this saved JWK Set for the checkpoint, not the database's.",
)
@json_option
@uses_database
def audit_verify(checkpoint_file: Path | None, jwks_file: Path | None, as_json: bool) -> None:
    """Check that no audit event was altered, removed or inserted; exit 1 if one was."""
    from licensing.services import audit as audit_log
    from licensing.services import audit_checkpoints

    if jwks_file is not None and checkpoint_file is None:
        raise click.UsageError("--jwks needs --checkpoint")
    head = None
    if checkpoint_file is not None:
        token = checkpoint_file.read_text(encoding="ascii", errors="replace")
        trusted = None
        if jwks_file is not None:
            try:
                trusted = audit_checkpoints.trusted_keys(_json_file(jwks_file))
            except audit_checkpoints.CheckpointInvalid as exc:
                raise click.ClickException(f"{jwks_file}: {exc.detail}") from None
        try:
            head = audit_checkpoints.read(session(), token, trusted=trusted).head
        except audit_checkpoints.CheckpointInvalid as exc:
            raise click.ClickException(f"{checkpoint_file}: {exc.detail}") from None
    report = audit_log.verify(session(), checkpoint=head)
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
    emit_record(record, as_json=as_json)
    if not report.intact:
        raise click.exceptions.Exit(1)


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
