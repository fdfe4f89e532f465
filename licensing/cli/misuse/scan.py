"""``licensing misuse scan``: run the misuse rules over the licenses with news.

It commits once per chunk of licenses (not once per command, as other commands
do): a crash or an interrupt then loses one chunk at most, and the watermark moves only
when the whole scan is done (docs/architecture.md §2). On SQLite it holds the write lock
only while it applies one chunk's findings (docs/misuse.md, "The scan").
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

import click

from licensing.cli.context import prepare_database, runtime, session
from licensing.cli.misuse.group import misuse
from licensing.cli.output import emit_json, emit_record, emit_records, json_option
from licensing.services import misuse_scan
from licensing.timeutil import utcnow

ANOTHER_SCAN = "another scan is running; nothing done (pass --wait to wait for it)"


class _ChunkCommits:
    """Commits each chunk; on a terminal, a progress bar with the counts so far."""

    def __init__(self, *, show: bool) -> None:
        self.show = show
        self.bar: Any = None
        self.findings = 0
        self.opened = 0

    def started(self, plan: misuse_scan.ScanPlan) -> None:
        if self.show and plan.license_ids:
            kind = "full scan" if plan.full else "incremental scan"
            self.bar = click.progressbar(
                length=len(plan.license_ids),
                label=f"{kind} of {len(plan.license_ids)} licenses",
                show_pos=True,
                item_show_func=lambda counts: counts,
            )
            self.bar.__enter__()

    def chunk_done(self, outcome: misuse_scan.ChunkOutcome) -> None:
        session().commit()
        self.findings += sum(outcome.findings.values())
        self.opened += outcome.cases.opened
        if self.bar is not None:
            self.bar.update(
                outcome.licenses, f"{self.findings} findings, {self.opened} cases opened"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@misuse.command("scan")
@click.option("--full", is_flag=True, help="Look at every license, not only those with news.")
@click.option(
    "--wait",
    is_flag=True,
    help="If a scan is running elsewhere, wait for it, then scan (default: say so, exit 0).",
)
@json_option
def scan(full: bool, wait: bool, as_json: bool) -> None:
    """Run the misuse rules over the licenses with something new since the last scan
    (every license when a full pass is due, or with --full) and open or update cases.

    Safe on several hosts at once: one scan runs, the others report it and exit 0.
    """
    prepare_database()
    # On SQLite the check took the write lock: check-ins wait for none until a chunk writes.
    session().commit()
    settings = runtime().settings
    # A batch job beside the server: check-ins on this host get the CPU first.
    os.nice(max(0, settings.misuse_scan_nice - os.nice(0)))
    progress = _ChunkCommits(show=not as_json and sys.stdout.isatty())
    try:
        summary = misuse_scan.run(
            session(),
            session().get_bind().engine,
            now=utcnow(),
            thresholds=settings.misuse_thresholds,
            full_scan_every=timedelta(hours=settings.misuse_full_scan_hours),
            progress=progress,
            full=full,
            wait=wait,
        )
        session().commit()
    finally:
        progress.close()
    if summary is None:
        if as_json:
            emit_json({"skipped": ANOTHER_SCAN})
        else:
            click.echo(ANOTHER_SCAN)
        return
    document = summary.to_json()
    if as_json:
        emit_json(document)
        return
    findings = document.pop("findings")
    emit_record(document, as_json=False)
    emit_records(
        [{"rule": rule, "findings": count} for rule, count in findings.items()],
        ["rule", "findings"],
        as_json=False,
    )
