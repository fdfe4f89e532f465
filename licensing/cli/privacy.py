"""``licensing privacy``: the register of processing (and, later, what enforces it)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from licensing.cli.context import runtime
from licensing.cli.output import emit_json
from licensing.privacy import record
from licensing.privacy.register import record_of_processing

privacy = AppGroup("privacy", help="Data protection: the register of processing (GDPR Art. 30).")


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
