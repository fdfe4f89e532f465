"""The ``licensing`` command: operate the server, the catalog and licenses."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING

import click

from licensing.errors import LicensingError

if TYPE_CHECKING:
    from flask import Flask

# Each command's module is imported only when the command runs or shows its help, so
# `licensing --help` and a read command load neither the HTTP API nor what other
# commands use. name: (module, attribute, summary for `licensing --help`);
# tests/functional/cli/test_startup.py checks each summary against the command's help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": ("licensing.cli.audit", "audit", "The append-only, hash-chained audit log."),
    "customer": (
        "licensing.cli.customers",
        "customer",
        "Customers (the data subjects behind licenses).",
    ),
    "db": ("licensing.cli.migrations", "db", "Perform database migrations."),
    "demo": (
        "licensing.cli.demo",
        "demo",
        "Seed demo data (once) and issue a fresh demo license; print its key.",
    ),
    "edition": (
        "licensing.cli.catalog",
        "edition",
        "Editions: the licensing policy a license is sold under.",
    ),
    "jobs": (
        "licensing.cli.jobs",
        "jobs",
        "Periodic jobs: cull dead activations, prune nonces, enforce retention, "
        "checkpoint the audit chain, roll up usage per day for the dashboard, scan for misuse.",
    ),
    "keys": (
        "licensing.cli.keys",
        "keys",
        "Server signing keys (Ed25519, published as a JWK Set) and the master key.",
    ),
    "license": (
        "licensing.cli.licenses",
        "license",
        "Issue licenses, look them up, change their state.",
    ),
    "misuse": (
        "licensing.cli.misuse",
        "misuse",
        "Misuse detection: scan, backtest, cases, exceptions, the escalation ladder, figures.",
    ),
    "partner": (
        "licensing.cli.partners",
        "partner",
        "Registered partners (resellers, lease providers).",
    ),
    "privacy": (
        "licensing.cli.privacy",
        "privacy",
        "Data protection: the register, retention, legal holds and the data subjects' rights.",
    ),
    "product": ("licensing.cli.catalog", "product", "Products that licenses are sold for."),
    "release": (
        "licensing.cli.catalog",
        "release",
        "Released versions of a product (drive upgrade eligibility).",
    ),
    "serve": (
        "licensing.cli.serve",
        "serve",
        "Run the server with gunicorn; migrates the embedded database first.",
    ),
    "staff": (
        "licensing.cli.staff",
        "staff",
        "Staff console accounts: add, list, disable, change a role, reset a password.",
    ),
}
# Commands that run the HTTP server get the application with its API wired.
SERVING_COMMANDS = frozenset({"serve"})


def _create_app() -> Flask:
    """The application for the command being run: without the HTTP API unless it serves."""
    from licensing import create_app

    root = click.get_current_context(silent=True)
    command = root.find_root().invoked_subcommand if root is not None else None
    return create_app(serves_http=command in SERVING_COMMANDS)


class LicensingGroup(click.Group):
    """A click group that imports a command's module only when the command is used,
    and whose commands load the application only when they run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries above, importing no command module."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            summary: click.Command | None
            if name in COMMANDS:
                summary = click.Command(name, help=COMMANDS[name][2])
            else:
                summary = super().get_command(ctx, name)
            if summary is not None and not summary.hidden:
                rows.append((name, summary.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Flask's commands find the application through the context object; set it
        # only once a command is chosen, so `--help` never imports Flask's CLI.
        from flask.cli import ScriptInfo

        if ctx.obj is None:
            ctx.obj = ScriptInfo(
                create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False
            )
        return super().resolve_command(ctx, args)


@click.group(cls=LicensingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="licensing", prog_name="licensing")
def cli() -> None:
    """License telemetry and verification server.

    Configuration comes from LICENSING_* environment variables (see README).
    """


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
    except Exception as exc:
        problem = _database_problem(exc)
        if problem is not None:
            click.echo(f"error: {problem}", err=True)
            sys.exit(1)
        # Operators get one line; the traceback goes to the log at DEBUG level.
        logging.getLogger("licensing.cli").debug("unexpected error", exc_info=exc)
        click.echo(f"error: unexpected {type(exc).__name__}: {_first_line(exc)}", err=True)
        sys.exit(1)


def _dashed_key_id(args: list[str]) -> str | None:
    """A key id that click took for an option: 22 base64url characters, the first a '-'."""
    from licensing.crypto.license_keys import is_key_id  # only on this error path

    return next((a for a in args if a[:1] == "-" and is_key_id(a)), None)


def _database_problem(error: Exception) -> str | None:
    """The line for a database failure; SQLAlchemy is loaded only if a command used it."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    if isinstance(error, OperationalError):
        return f"database unavailable: {_first_line(error.orig)}"
    if isinstance(error, SQLAlchemyError):
        return f"database: {_first_line(getattr(error, 'orig', error))}"
    return None


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
