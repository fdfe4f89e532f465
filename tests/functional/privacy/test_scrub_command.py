"""``licensing privacy scrub`` on committed data: it rewrites the files and says what."""

from __future__ import annotations

import json

from flask import Flask

from licensing.cli import cli
from licensing.extensions import db


def test_the_scrub_command_rewrites_the_files_and_reports_them(committed_app: Flask) -> None:
    with committed_app.app_context():
        result = committed_app.test_cli_runner().invoke(cli, ["privacy", "scrub", "--json"])
        backend = db.engine.dialect.name
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    if backend == "sqlite":
        assert report["scrubbed"] == ["database file", "write-ahead log"]
    else:
        assert {"customers", "usage_observations", "pg_statistic"} <= set(report["scrubbed"])
    assert report["problem"] is None and report["seconds"] >= 0
