"""``licensing misuse backtest``: one rule replayed under proposed thresholds, writing nothing."""

from __future__ import annotations

from datetime import datetime

import click

from licensing.cli.context import UTC_DATE, prepare_database, runtime, session
from licensing.cli.misuse.group import misuse
from licensing.cli.output import emit_json, emit_record, emit_records, json_option
from licensing.database import reading_session
from licensing.services import misuse_backtest
from licensing.timeutil import utcnow


@misuse.command("backtest")
@click.argument("rule")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="A proposed threshold (repeatable); the others stay as configured.",
)
@click.option(
    "--since",
    type=UTC_DATE,
    help="Replay the history since this date (default: the configured lookback).",
)
@json_option
def backtest(rule: str, thresholds: tuple[str, ...], since: datetime | None, as_json: bool) -> None:
    """Replay RULE over the retained history under proposed thresholds, beside the
    thresholds in force; writes nothing.

    Reports the licenses evaluated and flagged, how many of those have an open, confirmed
    or dismissed case for RULE today, the difference from today's thresholds, and up to
    ten examples.
    """
    chosen = misuse_backtest.rule_named(rule)
    changes = dict(_pair(text) for text in thresholds)
    now = utcnow()
    current, proposed = misuse_backtest.proposal(
        changes, runtime().settings.misuse_thresholds, now=now, since=since
    )
    prepare_database()
    # On SQLite the check took the write lock; a backtest reads without it, beside check-ins.
    session().commit()
    try:
        with reading_session(session()) as reader:
            report = misuse_backtest.backtest(
                reader, rule=chosen, current=current, proposed=proposed, now=now
            )
    finally:
        session().rollback()  # a backtest writes nothing, whatever it touched
    document = report.to_json()
    if as_json:
        emit_json(document)
        return
    examples = document.pop("examples")
    emit_record(document, as_json=False)
    click.echo()
    emit_records(examples, ["license_id", "key_hint", "flagged_now", "summary"], as_json=False)


def _pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--threshold")
    return name.strip(), value.strip()
