"""``licensing db``: Alembic's commands; a downgrade drops data, so it asks first.

These run the installed command on an SQLite database in their own instance folder.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from licensing.database import head_revisions
from tests.functional.cli.test_errors import DATABASE_FILE, describe, run, without_traceback


def revisions(instance: Path) -> set[str]:
    with sqlite3.connect(instance / DATABASE_FILE) as connection:
        return {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    upgraded = without_traceback(run(tmp_path, "db", "upgrade"))
    assert upgraded.returncode == 0, describe(upgraded)
    assert revisions(tmp_path) == set(head_revisions())
    return tmp_path


def test_downgrade_declined_changes_nothing(migrated: Path) -> None:
    declined = without_traceback(run(migrated, "db", "downgrade", "base", input="n\n"))

    assert declined.returncode == 1, describe(declined)
    assert "Downgrade the database schema to base?" in declined.stderr
    assert declined.stderr.endswith("error: not confirmed; nothing was changed\n")
    assert revisions(migrated) == set(head_revisions())


def test_downgrade_without_an_answer_changes_nothing(migrated: Path) -> None:
    unanswered = without_traceback(run(migrated, "db", "downgrade", "base"))

    assert unanswered.returncode == 1, describe(unanswered)
    assert unanswered.stderr.splitlines()[-1] == (
        "error: this needs confirmation: answer the question, or pass --yes"
    )
    assert revisions(migrated) == set(head_revisions())


@pytest.mark.parametrize(
    ("options", "answer"), [(("--yes",), None), ((), "y\n")], ids=["--yes", "answered yes"]
)
def test_downgrade_confirmed(migrated: Path, options: tuple[str, ...], answer: str | None) -> None:
    done = without_traceback(run(migrated, "db", "downgrade", *options, "base", input=answer))

    assert done.returncode == 0, describe(done)
    assert revisions(migrated) == set()


def test_downgrade_to_sql_prints_statements_without_asking(migrated: Path) -> None:
    printed = without_traceback(run(migrated, "db", "downgrade", "--sql", "0004:0003"))

    assert printed.returncode == 0, describe(printed)
    assert "DROP INDEX uq_customers_email_lower" in printed.stdout
    assert "Downgrade the database schema" not in printed.stderr
    assert revisions(migrated) == set(head_revisions())


def test_downgrade_by_steps_names_the_revision_it_goes_to(migrated: Path) -> None:
    from alembic.script import ScriptDirectory

    from licensing.database import migrations_directory

    (head,) = head_revisions()
    below = ScriptDirectory(str(migrations_directory())).get_revision(head).down_revision

    declined = without_traceback(run(migrated, "db", "downgrade", input="n\n"))

    assert declined.returncode == 1, describe(declined)
    assert f"Downgrade the database schema one revision down (to {below})?" in declined.stderr
    assert revisions(migrated) == set(head_revisions())
