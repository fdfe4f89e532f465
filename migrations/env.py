"""Alembic environment: runs against the application's own engine and metadata."""

from __future__ import annotations

import logging
import warnings

from alembic import context
from flask import current_app

logger = logging.getLogger("alembic.env")
config = context.config
migrate = current_app.extensions["migrate"]


def process_revision_directives(ctx, revision, directives):  # type: ignore[no-untyped-def]
    """Write no empty revision when autogenerate finds nothing to do."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    """Render the models' UTC timestamp type as the plain column type it stores as."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    url = migrate.db.engine.url.render_as_string(hide_password=True)
    context.configure(url=url, target_metadata=migrate.db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    options = dict(migrate.configure_args)
    options.setdefault("process_revision_directives", process_revision_directives)
    options.setdefault("render_item", render_item)
    with migrate.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild tables (copy, drop, rename); with foreign keys
            # enforced, dropping a referenced table fails. The pragma only takes effect
            # outside a transaction, hence the driver connection (autocommit) directly.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(connection=connection, target_metadata=migrate.db.metadata, **options)
            with context.begin_transaction(), warnings.catch_warnings():
                if sqlite:
                    # SQLite cannot reflect an index on an expression (lower(email)), so
                    # `db check` cannot compare it there; PostgreSQL compares it.
                    warnings.filterwarnings("ignore", message=".*expression-based index")
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
