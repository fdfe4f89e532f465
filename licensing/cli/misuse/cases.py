"""``licensing misuse cases`` (the queue) and ``licensing misuse case show``."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from licensing.cli.context import runtime, session, uses_database
from licensing.cli.misuse import records
from licensing.cli.misuse.group import misuse
from licensing.cli.output import emit_json, emit_record, emit_records, json_option
from licensing.misuse.findings import Rule, Severity
from licensing.misuse.ladder import LadderPeriods, proposed_step, why_no_step
from licensing.models import License
from licensing.models.misuse import CaseStatus, MisuseCase
from licensing.services import licenses, misuse_case_queries, misuse_exceptions
from licensing.timeutil import rfc3339, utcnow

CASE_REFERENCE_HELP = "CASE is a case id or a unique prefix of it (at least 8 hex digits)."
case_reference = click.argument("reference", metavar="CASE")

case = AppGroup("case", help="One misuse case: show it, assign it, note, decide, escalate.")
misuse.add_command(case)


def periods() -> LadderPeriods:
    settings = runtime().settings
    return LadderPeriods(settings.misuse_notice_days, settings.misuse_final_notice_days)


def key_ids(license_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The key id of each license (what staff recognise), in one query."""
    if not license_ids:
        return {}
    rows = session().execute(
        select(License.id, License.key_id).where(License.id.in_(set(license_ids)))
    )
    return {license_id: key_id for license_id, key_id in rows}


def case_summary(found: MisuseCase) -> dict[str, Any]:
    """A case with its proposed next step: what an action prints afterwards."""
    record = records.case(found, key_id=key_ids([found.license_id]).get(found.license_id))
    proposal = records.proposal(proposed_step(found, utcnow(), periods()), why_no_step(found))
    record["proposed_step"] = proposal["step"]
    record["proposed_due_at"] = proposal["due_at"]
    return record


@misuse.command("cases")
@click.option("--rule", type=click.Choice([r.value for r in Rule]), help="Only this rule.")
@click.option(
    "--status", type=click.Choice([s.value for s in CaseStatus]), help="Only this status."
)
@click.option(
    "--severity", type=click.Choice([s.value for s in Severity]), help="Only this severity."
)
@click.option(
    "--license", "license_ref", metavar="LICENSE", help="Only this license (id or key id)."
)
@json_option
@uses_database
def misuse_cases(
    rule: str | None,
    status: str | None,
    severity: str | None,
    license_ref: str | None,
    as_json: bool,
) -> None:
    """List misuse cases: high severity first, then the newest evidence."""
    license_id = licenses.find(session(), license_ref).id if license_ref else None
    found = misuse_case_queries.list_cases(
        session(),
        rule=Rule(rule) if rule else None,
        status=CaseStatus(status) if status else None,
        severity=severity,
        license_id=license_id,
    )
    keys = key_ids({c.license_id for c in found})
    rows = [records.case(c, key_id=keys.get(c.license_id)) for c in found]
    emit_records(
        rows,
        ["id", "license", "rule", "severity", "status", "assignee", "last_seen", "summary"],
        as_json=as_json,
    )


@case.command("show", epilog=CASE_REFERENCE_HELP)
@case_reference
@json_option
@uses_database
def case_show(reference: str, as_json: bool) -> None:
    """Show a case: its evidence, history, the exceptions that apply, the next step."""
    db, now = session(), utcnow()
    found = misuse_case_queries.find_case(db, reference)
    record = records.case(found, key_id=key_ids([found.license_id]).get(found.license_id))
    proposal = records.proposal(proposed_step(found, now, periods()), why_no_step(found))
    events = [records.event(e) for e in misuse_case_queries.case_events(db, found)]
    exceptions = [
        records.exception(x, now)
        for x in misuse_exceptions.exceptions_for(db, found.license_id, found.rule, now)
    ]
    if as_json:
        emit_json(
            {
                **record,
                "evidence": found.evidence,
                "decided_evidence": found.decided_evidence,
                "proposed": proposal,
                "events": events,
                "exceptions": exceptions,
            }
        )
        return
    emit_record(record, as_json=False)
    records.echo_section("evidence", list(records.readable(found.evidence)))
    records.echo_section(
        "events",
        [
            f"  {rfc3339(e['at'])}  {e['kind']}  by {e['actor']}"
            + (f"  {records.inline(e['detail'])}" if e["detail"] else "")
            for e in events
        ],
    )
    records.echo_section(
        "exceptions",
        [
            f"  {x['id']}  {x['kind']} until {rfc3339(x['ends_at'])} "
            f"(declared by {x['declared_by']}): {x['reason']}"
            for x in exceptions
        ],
    )
    if proposal["step"] is None:
        next_step = f"  none: {proposal['why_none']}"
    else:
        due = "due now" if proposal["due"] else "not yet due"
        next_step = f"  {proposal['step']} due {rfc3339(proposal['due_at'])} ({due})"
    records.echo_section("proposed escalation", [next_step])
