"""``licensing db``: Flask-Migrate's Alembic commands; a downgrade asks first."""

from __future__ import annotations

from typing import Any

import click
from flask_migrate.cli import db as flask_migrate_db

from licensing.cli.options import confirm, yes_option

_downgrade = flask_migrate_db.commands["downgrade"]


@click.pass_context
def _confirmed_downgrade(ctx: click.Context, /, yes: bool, **kwargs: Any) -> None:
    # --sql only prints the statements; nothing is dropped, so nothing to confirm.
    if not kwargs["sql"]:
        confirm(
            f"Downgrade the database schema to {kwargs['revision']}? Tables and columns "
            "added after it are dropped with their data.",
            yes=yes,
        )
    ctx.invoke(_downgrade.callback, **kwargs)


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
