"""``licensing misuse scan`` and ``licensing misuse backtest``, and the scan as a job."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import jobs
from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest
from licensing.extensions import db
from licensing.models import License
from licensing.models.misuse import MisuseCase, MisuseScanState
from licensing.runtime import EXTENSION_KEY
from licensing.services import misuse_scan
from licensing.storage import advisory_lock
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.invoke import Licensing, fields, table
from tests.unit.services.misuse_rows import DAY, daily, seat


def _sites(session: Session, sealer: Sealer, networks: int) -> License:
    """A license whose servers each check in from a network of their own, until now. Its
    upgrade protection has no end: its product has no release records, and with an end
    any version would be uncovered (as the check-in verdict would answer)."""
    now = utcnow()
    license = make_license(session, sealer).license
    license.status_changed_at = now - 60 * DAY
    license.upgrade_protection_until = None
    for n in range(networks):
        activation = seat(session, license.id, activated_days_ago=20, now=now)
        daily(session, activation, 3, network=f"203.0.{n}", server=f"host-{n % 3}", now=now)
    return license


def test_scan_json_reports_what_it_did(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    spreading = _sites(session, sealer, 6)
    _sites(session, sealer, 1)

    first = licensing.json("misuse", "scan")

    assert first["full"] is True
    assert first["licenses_scanned"] == 2
    assert first["findings"]["NETWORK_SPREAD"] == 1
    assert set(first["findings"]) == {
        "MIGRATION_OVERSTAY",
        "SERVER_SPREAD",
        "NETWORK_SPREAD",
        "CLONED_INSTANCE",
        "ACTIVATION_CHURN",
        "REVOKED_CALLING_HOME",
        "VERSION_NOT_COVERED",
        "SIGNATURE_FAILURES",
    }
    assert (first["cases_opened"], first["cases_updated"], first["cases_reopened"]) == (1, 0, 0)
    assert first["quiet_by_exception"] == 0
    assert first["seconds"] >= 0
    (case,) = session.scalars(select(MisuseCase))
    assert (case.license_id, case.rule) == (spreading.id, "NETWORK_SPREAD")
    assert session.get(MisuseScanState, misuse_scan.SCAN_NAME) is not None

    second = licensing.json("misuse", "scan")

    assert (second["full"], second["licenses_scanned"], second["cases_opened"]) == (False, 0, 0)


def test_scan_full_looks_at_every_license_again(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    _sites(session, sealer, 6)
    licensing.json("misuse", "scan")

    again = licensing.json("misuse", "scan", "--full")

    assert (again["full"], again["licenses_scanned"], again["cases_opened"]) == (True, 1, 0)


def test_scan_prints_a_summary_for_people(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    _sites(session, sealer, 6)

    output = licensing.ok("misuse", "scan")

    summary, _, findings = output.partition("RULE")
    assert fields(summary)["licenses_scanned"] == "1"
    assert fields(summary)["cases_opened"] == "1"
    rows = {row["rule"]: row["findings"] for row in table("RULE" + findings)}
    assert rows["NETWORK_SPREAD"] == "1"
    assert rows["SERVER_SPREAD"] == "0"
    assert "scan of" not in output  # no progress bar when the output is not a terminal


@pytest.mark.postgres_only
def test_scan_while_another_runs_says_so_and_exits_0(app: Flask, licensing: Licensing) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's (tests/concurrency covers SQLite)")
    with advisory_lock.held(db.engine, "misuse-scan", wait=False) as held:
        assert held
        skipped = licensing.json("misuse", "scan")
        said = licensing.ok("misuse", "scan")

    assert skipped == {
        "skipped": "another scan is running; nothing done (pass --wait to wait for it)"
    }
    assert said.startswith("another scan is running")


def test_backtest_json_reports_the_figures(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    _sites(session, sealer, 6)
    four = _sites(session, sealer, 4)

    report = licensing.json(
        "misuse", "backtest", "network_spread", "--threshold", "network_spread_networks=3"
    )

    assert report["rule"] == "NETWORK_SPREAD"
    assert report["proposed"] == {"network_spread_networks": 3}
    assert (report["licenses_evaluated"], report["flagged"], report["flagged_now"]) == (2, 2, 1)
    assert report["difference"] == 1
    assert report["examples"][0]["license_id"] == str(four.id)
    assert report["examples"][0]["key_hint"] == four.key_hint
    assert session.scalars(select(MisuseCase)).all() == []


def test_backtest_prints_figures_and_examples(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    _sites(session, sealer, 6)

    since = (utcnow() - 100 * DAY).date()
    output = licensing.ok("misuse", "backtest", "NETWORK_SPREAD", "--since", since.isoformat())

    figures, _, examples = output.partition("\n\n")
    assert fields(figures)["flagged"] == "1"
    # The lookback is whole days: the replay reaches back to the day before, at this hour.
    assert fields(figures)["since"].startswith(f"{since - DAY}T")
    assert table(examples)[0]["flagged_now"] == "True"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["SPREAD"], "unknown misuse rule 'SPREAD'"),
        (["NETWORK_SPREAD", "--threshold", "networks=3"], "unknown misuse threshold(s) networks"),
        (["NETWORK_SPREAD", "--threshold", "churn_days=0"], "must be at least 1"),
        (["NETWORK_SPREAD", "--threshold", "lookback_days=3000000"], "must be at most 400"),
        (["NETWORK_SPREAD", "--since", "0001-01-01"], "--since must be within the last 400"),
    ],
)
def test_backtest_refuses_unknown_rules_and_thresholds(
    licensing: Licensing, arguments: list[str], problem: str
) -> None:
    error = licensing.fails("misuse", "backtest", *arguments)

    assert isinstance(error, InvalidRequest)
    assert problem in error.detail


def test_backtest_threshold_must_be_name_equals_value(licensing: Licensing) -> None:
    result = licensing.run("misuse", "backtest", "NETWORK_SPREAD", "--threshold", "three")

    assert result.exit_code == 2
    assert "is not NAME=VALUE" in result.output


def test_the_scan_is_a_periodic_job_that_commits_before_it_and_each_chunk(
    app: Flask, session: Session, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        _sites(session, sealer, 1)
    steps: list[str] = []
    planned = misuse_scan.plan

    def plan(*args: Any, **kwargs: Any) -> misuse_scan.ScanPlan:
        steps.append("plan")
        return planned(*args, **kwargs)

    monkeypatch.setattr(misuse_scan, "plan", plan)
    runtime = app.extensions[EXTENSION_KEY]
    context = jobs.JobContext(
        settings=runtime.settings, sealer=runtime.sealer, checkpoint=lambda: steps.append("commit")
    )

    assert "misuse-scan" in jobs.JOBS
    (result,) = jobs.run(
        session, now=utcnow() + timedelta(seconds=1), context=context, only="misuse-scan"
    )

    assert (result.job, result.affected) == ("misuse-scan", 3)
    # What the jobs before it wrote (and the rows they lock) is committed before the
    # scan starts; then one chunk of three licenses.
    assert steps == ["commit", "plan", "commit"]


def test_jobs_run_lists_the_scan(licensing: Licensing) -> None:
    listed = licensing.json("jobs", "run", "--only", "misuse-scan")

    assert listed == [{"job": "misuse-scan", "affected": 0}]


def test_on_a_terminal_the_scan_shows_a_progress_bar_with_counts(
    app: Flask, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter

    import click._termui_impl

    # click draws the bar only on a terminal; pytest's captured output is not one.
    monkeypatch.setattr(click._termui_impl, "isatty", lambda _: True)

    from licensing.cli.misuse.scan import _ChunkCommits
    from licensing.misuse.findings import Rule
    from licensing.services.misuse_cases import CaseChanges

    progress = _ChunkCommits(show=True)
    progress.started(misuse_scan.ScanPlan(utcnow(), True, None, [uuid.uuid4() for _ in range(4)]))
    progress.chunk_done(
        misuse_scan.ChunkOutcome(2, Counter({Rule.SERVER_SPREAD: 3}), CaseChanges(opened=1))
    )
    progress.chunk_done(misuse_scan.ChunkOutcome(2, Counter(), CaseChanges()))
    progress.close()

    shown = capsys.readouterr().out
    assert "full scan of 4 licenses" in shown
    assert "3 findings, 1 cases opened" in shown


def test_the_progress_bar_stays_away_when_not_asked(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    from licensing.cli.misuse.scan import _ChunkCommits

    progress = _ChunkCommits(show=False)
    progress.started(misuse_scan.ScanPlan(utcnow(), True, None, [uuid.uuid4()]))
    progress.close()

    assert capsys.readouterr().out == ""
