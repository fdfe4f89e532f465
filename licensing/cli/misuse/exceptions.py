"""``licensing misuse exception add|list|end``: legitimate patterns that silence a rule."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from licensing.cli.context import UTC_DATE, actor, session, uses_database
from licensing.cli.misuse import records
from licensing.cli.misuse.group import misuse
from licensing.cli.options import REASON, license_reference_help
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.misuse.findings import Rule
from licensing.services import licenses, misuse_exceptions
from licensing.services.misuse_exceptions import ExceptionKind
from licensing.timeutil import utcnow

exception = AppGroup(
    "exception",
    help="Exceptions: a legitimate pattern (failover server, NAT, test server) that keeps "
    "a rule quiet for one license, for the evidence it was declared on, until a date.",
)
misuse.add_command(exception)

_RULE = click.Choice([r.value for r in Rule])
_COLUMNS = ["id", "license_id", "rule", "kind", "state", "ends_at", "declared_by", "reason"]


@exception.command("add", epilog=license_reference_help)
@click.argument("reference", metavar="LICENSE")
@click.option("--rule", type=_RULE, required=True, help="The rule to keep quiet.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in ExceptionKind]),
    required=True,
    help="What the legitimate pattern is.",
)
@click.option(
    "--reason",
    type=REASON,
    required=True,
    help="Why it is legitimate (kept with the exception; the audit log records the "
    "declaration by id, not this text).",
)
@click.option(
    "--until",
    "until",
    type=UTC_DATE,
    required=True,
    help="When the exception ends (in the future, at most a year ahead).",
)
@json_option
@uses_database
def exception_add(
    reference: str, rule: str, kind: str, reason: str, until: datetime, as_json: bool
) -> None:
    """Declare an exception: until then the rule keeps quiet for the license as far as the
    evidence its case shows now (or, without a case, the first finding held quiet); a
    finding beyond that still opens or updates the case."""
    now = utcnow()
    declared = misuse_exceptions.declare(
        session(),
        license=licenses.find(session(), reference),
        rule=Rule(rule),
        kind=ExceptionKind(kind),
        reason=reason,
        ends_at=until,
        actor=actor(),
        now=now,
    )
    emit_record(records.exception(declared, now), as_json=as_json)


@exception.command("list")
@click.option("--all", "everything", is_flag=True, help="Also ended and expired exceptions.")
@click.option(
    "--license", "license_ref", metavar="LICENSE", help="Only this license (id or key id)."
)
@click.option("--rule", type=_RULE, help="Only this rule.")
@json_option
@uses_database
def exception_list(
    everything: bool, license_ref: str | None, rule: str | None, as_json: bool
) -> None:
    """List exceptions: the active ones, or with --all every one ever declared."""
    now = utcnow()
    found = misuse_exceptions.list_exceptions(
        session(),
        now=now,
        active_only=not everything,
        license_id=licenses.find(session(), license_ref).id if license_ref else None,
        rule=Rule(rule) if rule else None,
    )
    emit_records([records.exception(x, now) for x in found], _COLUMNS, as_json=as_json)


@exception.command(
    "end", epilog="EXCEPTION is an exception id or a unique prefix (at least 8 hex digits)."
)
@click.argument("reference", metavar="EXCEPTION")
@json_option
@uses_database
def exception_end(reference: str, as_json: bool) -> None:
    """End an exception now: the rule speaks again for the license from the next scan."""
    now = utcnow()
    ended = misuse_exceptions.end(
        session(), misuse_exceptions.find_exception(session(), reference), actor=actor(), now=now
    )
    emit_record(records.exception(ended, now), as_json=as_json)
