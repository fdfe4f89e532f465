"""``licensing privacy register``: the record of processing as text, JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask

from licensing import create_app
from licensing.cli import cli
from licensing.privacy.categories import CategoryCode
from licensing.privacy.register import COLUMNS
from tests.functional.cli.invoke import Licensing
from tests.functional.cli.test_errors import run
from tests.functional.cli.test_setup_errors import KEYS, one_error_line


def by_code(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in data["categories"]}


def test_json_has_every_category_with_its_retention(licensing: Licensing) -> None:
    categories = by_code(licensing.json("privacy", "register"))

    assert set(categories) == {c.value for c in CategoryCode}
    raw = categories["raw_usage"]
    assert raw["retention"] == {
        "period": 30,
        "unit": "days",
        "starts": "the check-in that recorded it",
        "setting": "LICENSING_RETENTION_RAW_USAGE_DAYS",
        "text": "30 days after the check-in that recorded it",
    }
    assert raw["end_action"] == "pseudonymise"
    assert {"column": "ip", "kind": "network address"} in raw["tables"]["usage_observations"]
    assert categories["pseudonymised_usage"]["retention"]["period"] == 13
    assert categories["pseudonymised_usage"]["retention"]["unit"] == "months"
    assert categories["license_and_customer"]["retention"]["period"] == 90
    assert categories["partner_disclosures"]["retention"]["period"] == 730
    assert categories["audit_events"]["retention"]["period"] == 730
    assert categories["not_personal"]["retention"]["period"] is None
    for category in categories.values():
        assert category["purpose"] and category["legal_basis"] and category["recipients"]


def test_json_covers_every_column_once(licensing: Licensing) -> None:
    categories = licensing.json("privacy", "register")["categories"]

    listed = [
        (table, entry["column"])
        for category in categories
        for table, columns in category["tables"].items()
        for entry in columns
    ]
    expected = [(t, c) for t, columns in COLUMNS.items() for c in columns]
    assert sorted(listed) == sorted(expected)


def test_text_lists_categories_with_their_periods_and_columns(licensing: Licensing) -> None:
    output = licensing.ok("privacy", "register")

    header, *rows = output.split("\n\n")[0].splitlines()
    assert header.split()[:2] == ["CATEGORY", "RETENTION"]
    assert [row.split()[0] for row in rows] == [c.value for c in CategoryCode]
    assert "30 days after the check-in that recorded it" in output
    assert "usage_observations: " in output and "ip (network address)" in output
    assert "staff_users: display_name (name), email (contact)" in output
    assert "LICENSING_RETENTION_AUDIT_DAYS" in output


def test_markdown_is_a_table_of_categories_and_their_columns(licensing: Licensing) -> None:
    output = licensing.ok("privacy", "register", "--markdown")

    lines = output.splitlines()
    assert lines[0].startswith("| category | purpose | legal basis |")
    assert sum(line.startswith("| ") for line in lines[2:10]) == len(CategoryCode)
    assert "### raw usage (IP address, server name)" in lines
    assert "| `customers` | company (organisation), email (contact), name (name) |" in lines


def test_json_and_markdown_together_are_refused(licensing: Licensing) -> None:
    result = licensing.run("privacy", "register", "--json", "--markdown")

    assert result.exit_code == 2
    assert "choose one of --json and --markdown" in result.output


def test_configured_periods_are_printed(app_config: dict[str, Any]) -> None:
    app: Flask = create_app(
        app_config
        | {"LICENSING_RETENTION_RAW_USAGE_DAYS": "7", "LICENSING_RETENTION_USAGE_MONTHS": "24"}
    )

    result = app.test_cli_runner().invoke(cli, ["privacy", "register", "--json"])

    assert result.exit_code == 0, result.output
    categories = by_code(json.loads(result.stdout))
    assert categories["raw_usage"]["retention"]["period"] == 7
    assert categories["pseudonymised_usage"]["retention"]["period"] == 24
    assert categories["misuse_evidence"]["retention"]["period"] == 24


def test_an_out_of_range_period_is_one_start_up_error_line(tmp_path: Path) -> None:
    completed = run(
        tmp_path, "privacy", "register", env={"LICENSING_RETENTION_AUDIT_DAYS": "5", **KEYS}
    )

    assert one_error_line(completed) == (
        "error: LICENSING_RETENTION_AUDIT_DAYS must be at least 30, not 5"
    )
