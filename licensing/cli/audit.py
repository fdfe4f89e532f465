"""``licensing audit``: the hash-chained audit log."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from licensing.cli.context import session, uses_database
from licensing.cli.output import emit_record, json_option
from licensing.services import audit as audit_log

audit = AppGroup("audit", help="The append-only, hash-chained audit log.")


@audit.command("verify")
@json_option
@uses_database
def audit_verify(as_json: bool) -> None:
    """Check that no audit event was altered, removed or inserted; exit 1 if one was."""
    report = audit_log.verify(session())
    emit_record(
        {
            "intact": report.intact,
            "events": report.events,
            "first_broken_seq": report.first_broken_seq,
            "problem": report.problem,
        },
        as_json=as_json,
    )
    if not report.intact:
        raise click.exceptions.Exit(1)
