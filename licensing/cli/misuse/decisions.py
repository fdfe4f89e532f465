"""``licensing misuse case assign|note|confirm|dismiss|escalate``: staff actions on a case.

Each loads the case locked (``for_update``): two staff escalating at once take one step.
"""

from __future__ import annotations

import click

from licensing.cli.context import actor, session, uses_database
from licensing.cli.misuse.cases import (
    CASE_REFERENCE_HELP,
    case,
    case_reference,
    case_summary,
    periods,
)
from licensing.cli.options import reason_option
from licensing.cli.output import emit_record, json_option
from licensing.services import misuse_case_actions as actions
from licensing.services.case_evidence_hold import case_hold
from licensing.services.misuse_case_queries import find_case
from licensing.timeutil import utcnow


@case.command("assign", epilog=CASE_REFERENCE_HELP)
@case_reference
@click.option("--to", "to", required=True, metavar="NAME", help="The reviewer's staff name.")
@json_option
@uses_database
def case_assign(reference: str, to: str, as_json: bool) -> None:
    """Assign a case to a reviewer (again to hand it over)."""
    found = find_case(session(), reference, for_update=True)
    actions.assign(session(), found, to=to, actor=actor(), now=utcnow())
    emit_record(case_summary(found), as_json=as_json)


@case.command("note", epilog=CASE_REFERENCE_HELP)
@case_reference
@click.option("--text", required=True, help="The note (kept in the case's history).")
@json_option
@uses_database
def case_note(reference: str, text: str, as_json: bool) -> None:
    """Add a note to a case's history."""
    found = find_case(session(), reference, for_update=True)
    actions.note(session(), found, text=text, actor=actor(), now=utcnow())
    emit_record(case_summary(found), as_json=as_json)


@case.command("confirm", epilog=CASE_REFERENCE_HELP)
@case_reference
@reason_option()
@click.option(
    "--suspend", is_flag=True, help="Also suspend the license now (skips the notice steps)."
)
@json_option
@uses_database
def case_confirm(reference: str, reason: str, suspend: bool, as_json: bool) -> None:
    """Confirm misuse: the case starts the escalation ladder (or, --suspend, ends it)."""
    found = find_case(session(), reference, for_update=True)
    actions.confirm(session(), found, reason=reason, suspend=suspend, actor=actor(), now=utcnow())
    held = case_hold(session(), found)
    emit_record({**case_summary(found), **(held.detail() if held else {})}, as_json=as_json)


@case.command("dismiss", epilog=CASE_REFERENCE_HELP)
@case_reference
@reason_option()
@json_option
@uses_database
def case_dismiss(reference: str, reason: str, as_json: bool) -> None:
    """Dismiss a case as legitimate; it reopens only on evidence beyond this."""
    found = find_case(session(), reference, for_update=True)
    actions.dismiss(session(), found, reason=reason, actor=actor(), now=utcnow())
    emit_record(case_summary(found), as_json=as_json)


@case.command("escalate", epilog=CASE_REFERENCE_HELP)
@case_reference
@json_option
@uses_database
def case_escalate(reference: str, as_json: bool) -> None:
    """Take the proposed step of a confirmed case once it is due.

    The steps are notify_customer, final_notice (record that you sent them) and suspend
    (suspends the license: its next check-in answers SUSPENDED).
    """
    found = find_case(session(), reference, for_update=True)
    # The operator at the CLI holds the deployment: it may take every step, suspend too.
    actions.escalate(
        session(), found, actor=actor(), now=utcnow(), periods=periods(), may_suspend=True
    )
    emit_record(case_summary(found), as_json=as_json)
