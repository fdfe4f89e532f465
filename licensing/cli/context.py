"""What every command needs: the session, the acting operator, a ready database."""

from __future__ import annotations

import functools
import getpass
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from licensing.config import lost_key_file
from licensing.database import migrations_directory, schema_is_at_least, schema_is_current
from licensing.errors import ConfigError, LicensingError
from licensing.extensions import db
from licensing.runtime import Runtime, current

if TYPE_CHECKING:
    from licensing.crypto.sealing import Sealer

P = ParamSpec("P")
R = TypeVar("R")


def session() -> Session:
    return db.session()


def runtime() -> Runtime:
    return current()


def actor() -> str:
    """Who the audit log names for a CLI action: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"


def prepare_database(sealer: Sealer | None = None, *, runs_from: str | None = None) -> None:
    """Migrate the embedded database on first use; refuse to run on an outdated server DB,
    or with a master key (``sealer``'s, the runtime's by default) that does not open it.

    A command whose tables look the same at every revision since ``runs_from`` also runs
    on a schema that is only that far: among them the commands an upgrade that stopped
    asks the operator to run (the migration's message names them).
    """
    connection = session().connection()
    if not schema_is_current(connection):
        behind_but_enough = runs_from is not None and schema_is_at_least(connection, runs_from)
        if not runtime().settings.uses_embedded_database:
            if not behind_but_enough:
                raise ConfigError(
                    "the database schema is not at the latest migration: run `licensing db upgrade`"
                )
        else:
            _upgrade_embedded_database(tolerate_failure=behind_but_enough)
        if behind_but_enough and not schema_is_current(session().connection()):
            # Such a command reads and writes no sealed data, and the tables the master-key
            # check reads (hash_keys) may not exist yet on a schema this far behind.
            return
    from licensing.crypto.sealing import SealBroken
    from licensing.services import master_key

    # A command run under the wrong key would seal new data that key alone opens.
    try:
        master_key.verify(
            session(), sealer or runtime().sealer, source=runtime().settings.master_key_source
        )
    except SealBroken as exc:
        settings = runtime().settings
        if settings.master_key_generated:  # the key file was lost: take back the new one
            Path(settings.master_key_source).unlink(missing_ok=True)
            raise lost_key_file(Path(settings.master_key_source)) from None
        raise ConfigError(exc.detail) from None


def _upgrade_embedded_database(*, tolerate_failure: bool) -> None:
    from flask_migrate import upgrade

    session().rollback()
    try:
        with _quiet_migrations():
            upgrade(directory=str(migrations_directory()))
    except (LicensingError, SQLAlchemyError) as exc:
        if not tolerate_failure:
            raise
        session().rollback()
        # The command still runs on the schema it found; the operator learns why it stayed.
        detail = exc.detail if isinstance(exc, LicensingError) else type(exc).__name__
        click.echo(f"warning: the database was not upgraded: {detail}", err=True)


@contextmanager
def _quiet_migrations() -> Iterator[None]:
    """The automatic upgrade of the embedded database narrates only at DEBUG level.

    Its lines would run into the output of the command that triggered it (``licensing
    demo``); `licensing db upgrade`, asked for by name, still narrates at INFO.
    """
    alembic = logging.getLogger("alembic")
    previous = alembic.level
    if not alembic.isEnabledFor(logging.DEBUG):
        alembic.setLevel(logging.WARNING)
    try:
        yield
    finally:
        alembic.setLevel(previous)


@overload
def uses_database(command: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def uses_database(*, runs_from: str) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def uses_database(
    command: Callable[P, R] | None = None, /, *, runs_from: str | None = None
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Ready the database before the command, commit once after it succeeds.

    ``runs_from``: the oldest revision at which every table the command uses already
    looks as it does now; the command then also runs on a schema that far behind.
    """

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            prepare_database(runs_from=runs_from)
            result = command(*args, **kwargs)
            session().commit()
            return result

        return wrapper

    return decorate if command is None else decorate(command)


class UtcDate(click.ParamType[datetime, Any]):
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 timestamp with a zone."""

    name = "date"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{text!r} is not a date (YYYY-MM-DD or ISO 8601 with a zone)", param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{text!r} has no time zone; add Z or an offset such as +00:00", param, ctx)
        return moment.astimezone(UTC)


UTC_DATE = UtcDate()
