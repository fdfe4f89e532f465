"""``licensing privacy erase`` and ``replay-erasures``: erasure, and making a restore safe."""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from licensing.cli.context import actor, runtime, session, uses_database
from licensing.cli.options import confirm, yes_option
from licensing.cli.output import emit_json, emit_records, json_option
from licensing.cli.privacy import privacy
from licensing.extensions import db
from licensing.models import PrivacyRequestKind
from licensing.services import erasure, erasure_run, privacy_requests
from licensing.services.erasure import ErasurePlan, ErasureReport
from licensing.storage import erasure_scrub
from licensing.storage.erasure_scrub import ScrubResult
from licensing.timeutil import utcnow

no_scrub_option = click.option(
    "--no-scrub",
    is_flag=True,
    help="Leave the database files' scrub (it locks each table it rewrites) to "
    "`licensing privacy scrub`, e.g. in a maintenance window.",
)


def _show_plan(plan: ErasurePlan, *, verb: str) -> None:
    emit_records(
        [{"table": c.table, "action": c.action, verb: c.rows} for c in plan.changes],
        ["table", "action", verb],
        as_json=False,
    )
    for kept in plan.kept:
        click.echo(f"kept {kept.table} ({kept.rows}): {kept.reason}")
    for hold in plan.holds:
        what = ", ".join(f"{table} {n}" for table, n in hold.kept.items() if n)
        click.echo(f"kept by legal hold {hold.hold_id} ({hold.matter}): {what or 'nothing'}")


def _show_scrub(scrubbed: tuple[str, ...], seconds: float | None, problem: str | None) -> None:
    if seconds is None:
        click.echo("scrubbed: nothing yet (run `licensing privacy scrub`)")
        return
    click.echo(f"scrubbed: {', '.join(scrubbed) or 'nothing'} in {seconds:.2f} s")
    if problem:
        click.echo(f"warning: the scrub is incomplete: {problem}", err=True)


@privacy.command("erase")
@click.option(
    "--request", "request_id", type=click.UUID, required=True, help="The erasure request's id."
)
@click.option("--dry-run", is_flag=True, help="Show the counts per table; change nothing.")
@no_scrub_option
@yes_option
@json_option
@uses_database
def privacy_erase(
    request_id: uuid.UUID, dry_run: bool, no_scrub: bool, yes: bool, as_json: bool
) -> None:
    """Erase the customer of an open erasure request: the customer record anonymised, its
    licenses revoked, their activations, usage and misuse evidence deleted; disclosures,
    privacy requests and audit events kept (each with its reason), and whatever a legal
    hold in force keeps left alone.

    Shows the plan first and asks before erasing (unless --yes). Then completes the
    request, appends to the erasure ledger and scrubs the database files."""
    request = privacy_requests.open_request(session(), request_id, {PrivacyRequestKind.ERASURE})
    assert request.customer_id is not None  # open_request refuses a request without one
    plan = erasure.plan(session(), request.customer_id, now=utcnow())
    if dry_run:  # the plan changed nothing: the command's commit only ends the transaction
        if as_json:
            emit_json(plan.to_json() | {"dry_run": True})
        else:
            _show_plan(plan, verb="would change")
        return
    if not as_json:
        _show_plan(plan, verb="will change")
    confirm(f"Erase customer {plan.customer_id}? This cannot be undone.", yes=yes)
    report = erasure_run.carry_out(
        session(),
        request,
        sealer=runtime().sealer,
        ledger=runtime().settings.erasure_ledger,
        scrub_engine=None if no_scrub else db.engine,
        actor=actor(),
        now=utcnow(),
    )
    _erased(report, as_json=as_json)


def _erased(report: ErasureReport, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
        return
    changed = ", ".join(f"{c.table} {c.rows}" for c in report.plan.changes if c.rows)
    click.echo(f"erased customer {report.plan.customer_id}: {changed or 'nothing left to change'}")
    _show_scrub(report.scrubbed, report.scrub_seconds, report.scrub_problem)


@privacy.command("replay-erasures")
@click.option("--dry-run", is_flag=True, help="Show who would be erased again; change nothing.")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this ledger instead of LICENSING_ERASURE_LEDGER (e.g. its own backup).",
)
@no_scrub_option
@json_option
@uses_database
def privacy_replay_erasures(
    dry_run: bool, ledger: Path | None, no_scrub: bool, as_json: bool
) -> None:
    """After restoring a backup: erase again every customer the erasure ledger names who
    is back in the database (not anonymised). No request is needed; each is audited.

    A ledger line whose MAC does not hold is reported and skipped, and the command then
    exits non-zero. Run it again: it changes nothing the second time."""
    path = ledger or runtime().settings.erasure_ledger
    if ledger is not None and not ledger.is_file():
        raise click.ClickException(f"no ledger at {ledger}")
    report, scrub = erasure_run.replay(
        session(),
        sealer=runtime().sealer,
        ledger=path,
        dry_run=dry_run,
        scrub_engine=None if no_scrub else db.engine,
        actor=actor(),
        now=utcnow(),
    )
    if as_json:
        emit_json(report.to_json() | {"scrub": _scrub_json(scrub)})
    else:
        verb = "would erase again" if dry_run else "erased again"
        click.echo(
            f"ledger lines: {report.lines}; {verb}: {len(report.replayed)}; "
            f"already erased: {report.already_erased}; not in the database: "
            f"{report.not_in_database}"
        )
        for plan in report.replayed:
            changed = ", ".join(f"{c.table} {c.rows}" for c in plan.changes if c.rows)
            click.echo(f"customer {plan.customer_id}: {changed}")
        if scrub is not None:
            _show_scrub(scrub.scrubbed, scrub.seconds, scrub.problem)
    if report.bad_lines:
        lines = ", ".join(str(n) for n in report.bad_lines)
        raise click.ClickException(
            f"{len(report.bad_lines)} ledger line(s) failed the MAC check and were skipped "
            f"(line {lines}): the ledger was altered, or written under another master key"
        )


def _scrub_json(scrub: ScrubResult | None) -> dict[str, object] | None:
    if scrub is None:
        return None
    return {"scrubbed": list(scrub.scrubbed), "seconds": scrub.seconds, "problem": scrub.problem}


@privacy.command("scrub")
@json_option
@uses_database
def privacy_scrub(as_json: bool) -> None:
    """Rewrite the database files of every table erasure changes, so deleted rows are not
    left readable (PostgreSQL: VACUUM FULL, an exclusive lock per table while it runs;
    SQLite: VACUUM and an emptied write-ahead log). For erasures run with --no-scrub."""
    session().commit()  # the scrub runs outside any transaction
    result = erasure_scrub.scrub(db.engine, erasure_scrub.SCRUBBABLE)
    if as_json:
        emit_json(_scrub_json(result))
    else:
        _show_scrub(result.scrubbed, result.seconds, result.problem)
    if not result.complete:
        raise click.ClickException(f"the scrub is incomplete: {result.problem}")
