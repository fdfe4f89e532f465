"""``licensing privacy``: the register of processing, and the retention job that enforces it."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import actor, runtime, session, uses_database
from licensing.cli.output import emit_json, emit_records, json_option
from licensing.cli.privacy_holds import hold
from licensing.privacy import record
from licensing.privacy.register import record_of_processing
from licensing.services import retention
from licensing.timeutil import utcnow

privacy = AppGroup(
    "privacy",
    help=("Data protection: the register, retention, legal holds and the data subjects' rights."),
)
privacy.add_command(hold)


@privacy.command("register")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--markdown", is_flag=True, help="Print the Markdown docs/privacy.md embeds.")
def privacy_register(as_json: bool, markdown: bool) -> None:
    """Print the record of processing: each category of data with its purpose, legal
    basis, recipients, retention (as configured) and end action, and the tables and
    columns it covers."""
    if as_json and markdown:
        raise click.UsageError("choose one of --json and --markdown")
    # Reads no database: the register is code, the periods are settings.
    entries = record_of_processing(runtime().settings.retention)
    if as_json:
        emit_json(record.as_data(entries))
    elif markdown:
        click.echo(record.as_markdown(entries))
    else:
        click.echo(record.as_text(entries))


class _BatchCommits:
    """On a terminal, a progress bar over every row the run changes, with its step."""

    def __init__(self, *, show: bool) -> None:
        self.show = show
        self.bar: Any = None

    def started(self, totals: Mapping[retention.Step, int]) -> None:
        total = sum(totals.values())
        if self.show and total:
            self.bar = click.progressbar(
                length=total,
                label=f"retention: {total} rows due",
                show_pos=True,
                item_show_func=lambda step: step,
            )
            self.bar.__enter__()

    def batch_done(self, step: retention.Step, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(rows, step.value)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _start_of_day(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


@privacy.command("enforce")
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Enforce as at the start of this day (UTC), not now: YYYY-MM-DD.",
)
@json_option
@uses_database
def privacy_enforce(dry_run: bool, as_of: datetime | None, as_json: bool) -> None:
    """Carry out the register's retention: raw IP addresses and server names past their
    raw period are cleared (their keyed hashes and networks stay), usage and disclosures
    past theirs deleted, customers and staff accounts past theirs anonymised, decided
    misuse cases and closed accountability records deleted, and the oldest audit events
    pruned behind a signed anchor. What a legal hold in force keeps is left, and counted.

    Batched, one commit per batch; idempotent, so an interrupted run resumes on the
    next. Writes one audit event with the counts (not in a dry run)."""
    progress = _BatchCommits(show=not as_json and not dry_run and sys.stdout.isatty())
    try:
        report = retention.enforce(
            session(),
            periods=runtime().settings.retention,
            as_of=_start_of_day(as_of) or utcnow(),
            dry_run=dry_run,
            progress=progress if progress.show else None,
            actor=actor(),
            sealer=runtime().sealer,
            issuer=runtime().settings.issuer,
        )
    finally:
        progress.close()
    if as_json:
        emit_json(report.to_json())
        return
    verb = "would change" if dry_run else "changed"
    emit_records(
        [
            {"step": step.value, verb: n, "kept by hold": report.kept_by_hold.get(step, 0)}
            for step, n in report.counts.items()
        ],
        ["step", verb, "kept by hold"],
        as_json=False,
    )
    for kept in report.kept:
        click.echo(f"kept {kept.table}.{kept.column}: {kept.reason}")
    for note in report.notes:
        click.echo(note)


from licensing.cli import privacy_erasure as _erasure  # noqa: E402, F401  erase, replay-erasures, scrub
from licensing.cli import privacy_requests as _rights  # noqa: E402, F401  the rights' commands
