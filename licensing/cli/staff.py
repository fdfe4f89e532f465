"""``licensing staff``: the accounts that sign in to the staff console."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import actor, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.crypto.passwords import generate_password
from licensing.models import StaffRole, StaffUser
from licensing.services import staff as accounts
from licensing.timeutil import utcnow

staff = AppGroup(
    "staff", help="Staff console accounts: add, list, disable, change a role, reset a password."
)
staff_ref = click.argument("reference", metavar="STAFF")
role_choice = click.Choice([r.value for r in StaffRole])
password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
generate_option = click.option(
    "--generate",
    is_flag=True,
    help="Generate a password and show it once (the default "
    "when standard input is not a terminal).",
)
STAFF_HELP_FOOTER = "STAFF is an account id or its e-mail address."


def _record(s: StaffUser) -> dict[str, Any]:
    return {
        "id": s.id,
        "email": s.email,
        "name": s.display_name,
        "role": s.role,
        "state": accounts.account_state(s, utcnow()).value,
        "disabled_at": s.disabled_at,
        "locked_until": s.locked_until,
        "created_at": s.created_at,
        "last_login_at": s.last_login_at,
        "password_changed_at": s.password_changed_at,
    }


def _interactive() -> bool:
    return sys.stdin.isatty()


def _password(*, from_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new password, and whether it was generated (and so must be shown once)."""
    if from_stdin and generate:
        raise click.UsageError("choose one of --password-stdin and --generate")
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin read no password")
        return line, False
    if not generate and _interactive():
        typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        return typed, False
    return generate_password(), True


def _emit(found: StaffUser, password: str | None, *, as_json: bool) -> None:
    record = _record(found)
    if password is not None:
        # Shown this once: only its argon2id hash is kept.
        record["password"] = password
    emit_record(record, as_json=as_json)
    if password is not None and not as_json:
        click.echo("The password is shown once; hand it over in person or by a safe channel.")


@staff.command("add", epilog=STAFF_HELP_FOOTER)
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Name shown in the console.")
@click.option("--role", type=role_choice, required=True, help="viewer, analyst or admin.")
@password_stdin_option
@generate_option
@json_option
@uses_database
def staff_add(
    email: str,
    display_name: str,
    role: str,
    password_stdin: bool,
    generate: bool,
    as_json: bool,
) -> None:
    """Add a staff account (the password is prompted twice, read from stdin, or generated)."""
    password, generated = _password(from_stdin=password_stdin, generate=generate)
    added = accounts.add_staff(
        session(),
        email=email,
        display_name=display_name,
        role=role,
        password=password,
        actor=actor(),
    )
    _emit(added, password if generated else None, as_json=as_json)


@staff.command("list")
@json_option
@uses_database
def staff_list(as_json: bool) -> None:
    """List staff accounts."""
    rows = [_record(s) for s in accounts.list_staff(session())]
    emit_records(rows, ["id", "email", "name", "role", "state", "last_login_at"], as_json=as_json)


@staff.command("disable", epilog=STAFF_HELP_FOOTER)
@staff_ref
@json_option
@uses_database
def staff_disable(reference: str, as_json: bool) -> None:
    """Disable an account: it cannot sign in, and its open sessions end."""
    found = accounts.disable_staff(
        session(), accounts.find_staff(session(), reference), actor=actor()
    )
    emit_record(_record(found), as_json=as_json)


@staff.command("set-role", epilog=STAFF_HELP_FOOTER)
@staff_ref
@click.argument("role", type=role_choice)
@json_option
@uses_database
def staff_set_role(reference: str, role: str, as_json: bool) -> None:
    """Give an account another role (its open sessions end)."""
    found = accounts.set_role(
        session(), accounts.find_staff(session(), reference), role, actor=actor()
    )
    emit_record(_record(found), as_json=as_json)


@staff.command("reset-password", epilog=STAFF_HELP_FOOTER)
@staff_ref
@password_stdin_option
@generate_option
@json_option
@uses_database
def staff_reset_password(
    reference: str, password_stdin: bool, generate: bool, as_json: bool
) -> None:
    """Set a new password: lifts a lockout and ends the account's open sessions."""
    found = accounts.find_staff(session(), reference)
    password, generated = _password(from_stdin=password_stdin, generate=generate)
    accounts.reset_password(session(), found, password, actor=actor())
    _emit(found, password if generated else None, as_json=as_json)
