"""The ``licensing`` command: operate the server, the catalog and licenses."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import click
from flask.cli import ScriptInfo
from flask_migrate.cli import db as db_commands
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from licensing import create_app
from licensing.cli import (
    audit,
    catalog,
    customers,
    demo,
    jobs,
    keys,
    licenses,
    partners,
    serve,
)
from licensing.errors import LicensingError

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{22}")


class LicensingGroup(click.Group):
    """A click group whose commands load the application only when they run."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        extra.setdefault(
            "obj",
            ScriptInfo(create_app=create_app, set_debug_flag=False, load_dotenv_defaults=False),
        )
        return super().make_context(info_name, args, parent, **extra)


@click.group(cls=LicensingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="licensing", prog_name="licensing")
def cli() -> None:
    """License telemetry and verification server.

    Configuration comes from LICENSING_* environment variables (see README).
    """


for command in (
    serve.serve,
    demo.demo,
    catalog.product,
    catalog.release,
    catalog.edition,
    customers.customer,
    licenses.license,
    keys.keys,
    audit.audit,
    jobs.jobs,
    partners.partner,
):
    cli.add_command(command)
cli.add_command(db_commands, "db")


def main() -> None:
    """Entry point: every failure is one line on stderr and a non-zero exit."""
    try:
        # Without standalone mode click returns, rather than raises, a command's exit code.
        outcome = cli.main(prog_name="licensing", standalone_mode=False)
        if isinstance(outcome, int) and outcome:
            sys.exit(outcome)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A group run without a command: show its help as click does, not as an error line.
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        hint = " (see --help)" if isinstance(exc, click.UsageError) else ""
        dashed = isinstance(exc, click.NoSuchOption) and _dashed_key_id(sys.argv[1:])
        if dashed:
            hint = f" (a key id starting with '-' goes after '--': ... -- {dashed})"
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except LicensingError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    except OperationalError as exc:
        click.echo(f"error: database unavailable: {_first_line(exc.orig)}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        click.echo(f"error: database: {_first_line(getattr(exc, 'orig', exc))}", err=True)
        sys.exit(1)
    except Exception as exc:
        # Operators get one line; the traceback goes to the log at DEBUG level.
        logging.getLogger("licensing.cli").debug("unexpected error", exc_info=exc)
        click.echo(f"error: unexpected {type(exc).__name__}: {_first_line(exc)}", err=True)
        sys.exit(1)


def _dashed_key_id(args: list[str]) -> str | None:
    """A key id that click took for an option: 22 base64url characters, the first a '-'."""
    return next((a for a in args if a[:1] == "-" and _KEY_ID.fullmatch(a)), None)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
