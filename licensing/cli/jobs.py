"""``licensing jobs``: periodic maintenance, for cron on one or many hosts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from licensing import jobs as maintenance
from licensing.cli.context import runtime, session, uses_database
from licensing.cli.output import emit_records, json_option
from licensing.timeutil import utcnow

jobs = AppGroup(
    "jobs",
    help=(
        "Periodic jobs: cull dead activations, prune nonces, enforce retention, "
        "checkpoint the audit chain, "
        "roll up usage per day for the dashboard, scan for misuse."
    ),
)


@jobs.command("run")
@click.option("--only", type=click.Choice(sorted(maintenance.JOBS)), help="Run just this job.")
@json_option
@uses_database
def jobs_run(only: str | None, as_json: bool) -> None:
    """Run the periodic jobs once (idempotent; safe on several hosts at once)."""
    context = maintenance.JobContext(
        settings=runtime().settings, sealer=runtime().sealer, checkpoint=session().commit
    )
    results = maintenance.run(session(), now=utcnow(), context=context, only=only)
    emit_records(
        [{"job": r.job, "affected": r.affected} for r in results],
        ["job", "affected"],
        as_json=as_json,
    )
