"""``licensing db``: Flask-Migrate's Alembic commands; a downgrade asks first."""

from __future__ import annotations

import re
from typing import Any

import click
from flask_migrate.cli import db as flask_migrate_db

from licensing.cli.options import confirm, yes_option
from licensing.database import current_revisions, migrations_directory
from licensing.extensions import db as database

_downgrade = flask_migrate_db.commands["downgrade"]


@click.pass_context
def _confirmed_downgrade(ctx: click.Context, /, yes: bool, **kwargs: Any) -> None:
    # --sql only prints the statements; nothing is dropped, so nothing to confirm.
    if not kwargs["sql"]:
        confirm(
            f"Downgrade the database schema {_target(kwargs['revision'])}? Tables and columns "
            "added after it are dropped with their data.",
            yes=yes,
        )
    ctx.invoke(_downgrade.callback, **kwargs)


def _target(revision: str) -> str:
    """Where a downgrade goes, in words: a relative step (Alembic's ``-1``) is resolved."""
    if not re.fullmatch(r"-[1-9][0-9]*", revision):
        return f"to {revision}"
    from alembic.script import ScriptDirectory

    steps = int(revision[1:])
    with database.engine.connect() as connection:
        current = current_revisions(connection)
    if len(current) != 1:  # not migrated, or on several branches: Alembic will say
        return f"to {revision}"
    script = ScriptDirectory(str(migrations_directory()))
    reached: str | None = next(iter(current))
    for _ in range(steps):
        down = script.get_revision(reached).down_revision if reached else None
        if down is not None and not isinstance(down, str):  # below a merge: ambiguous
            return f"to {revision}"
        reached = down
    where = "base" if reached is None else reached
    moved = "one revision down" if steps == 1 else f"{steps} revisions down"
    return f"{moved} (to {where})"


downgrade = yes_option(
    click.Command(
        "downgrade",
        callback=_confirmed_downgrade,
        params=list(_downgrade.params),
        help=f"{_downgrade.help} (asks first unless --yes).",
    )
)

db = click.Group(
    "db",
    commands={**flask_migrate_db.commands, "downgrade": downgrade},
    params=list(flask_migrate_db.params),
    callback=flask_migrate_db.callback,
    help=flask_migrate_db.help,
)
