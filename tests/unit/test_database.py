"""The schema's head revisions, read without importing Alembic, are Alembic's."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from licensing import database
from licensing.database import head_revisions, migrations_directory


def alembic_heads(directory: Path) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(directory))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def test_head_revisions_are_alembics() -> None:
    assert head_revisions() == alembic_heads(migrations_directory())


REVISION = '''"""{message}"""
revision{annotation} = {revision!r}
down_revision{annotation} = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


def test_branches_and_merges_are_read_like_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "migrations"
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text("", encoding="utf-8")
    (directory / "script.py.mako").write_text("", encoding="utf-8")
    revisions = [
        ("a", None, ""),
        ("b", "a", ""),
        ("c", "a", ": str"),
        ("d", ("b", "c"), ""),
        ("e", "a", ""),
    ]
    for revision, down, annotation in revisions:
        (directory / "versions" / f"{revision}.py").write_text(
            REVISION.format(message=revision, revision=revision, down=down, annotation=annotation),
            encoding="utf-8",
        )
    monkeypatch.setattr(database, "migrations_directory", lambda: directory)
    database.head_revisions.cache_clear()
    try:
        assert database.head_revisions() == {"d", "e"} == alembic_heads(directory)
    finally:
        database.head_revisions.cache_clear()
