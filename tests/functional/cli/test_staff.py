"""``licensing staff``: accounts added with a password typed, piped or generated."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from licensing.cli import staff as staff_cli
from licensing.crypto.passwords import verify_password
from licensing.errors import Conflict, InvalidRequest, InvalidTransition, NotFound
from licensing.services import staff as accounts
from tests.factories import latest_event
from tests.functional.cli.invoke import Licensing

PASSWORD = "a long enough passphrase"


def test_add_with_the_password_on_stdin(licensing: Licensing, session: Session) -> None:
    added = licensing.json(
        "staff",
        "add",
        "Ada@Example.org",
        "--name",
        "Ada",
        "--role",
        "admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )

    assert (added["email"], added["role"], added["state"]) == ("ada@example.org", "admin", "active")
    assert "password" not in added  # typed by the operator: never printed back
    staff = accounts.find_staff(session, added["id"])
    assert verify_password(staff.password_hash, PASSWORD)
    assert latest_event(session).actor.startswith("cli:")


def test_add_generates_a_password_shown_once(licensing: Licensing, session: Session) -> None:
    output = licensing.ok("staff", "add", "bob@example.org", "--name", "Bob", "--role", "viewer")

    password = next(
        line.split()[1] for line in output.splitlines() if line.split()[0] == "password"
    )
    assert len(password) >= 20
    assert "shown once" in output
    staff = accounts.find_staff(session, "bob@example.org")
    assert verify_password(staff.password_hash, password)
    listed = licensing.ok("staff", "list")
    assert password not in listed


def test_add_prompts_twice_on_a_terminal(
    licensing: Licensing, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staff_cli, "_interactive", lambda: True)

    result = licensing.run(
        "staff",
        "add",
        "cy@example.org",
        "--name",
        "Cy",
        "--role",
        "analyst",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.stdout
    assert verify_password(accounts.find_staff(session, "cy@example.org").password_hash, PASSWORD)


def test_a_mistyped_repeat_is_asked_again(
    licensing: Licensing, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staff_cli, "_interactive", lambda: True)
    typed = f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"

    licensing.ok("staff", "add", "di@example.org", "--name", "Di", "--role", "viewer", input=typed)

    assert verify_password(accounts.find_staff(session, "di@example.org").password_hash, PASSWORD)


def test_list_disable_set_role_reset_password(licensing: Licensing, session: Session) -> None:
    licensing.ok(
        "staff",
        "add",
        "ed@example.org",
        "--name",
        "Ed",
        "--role",
        "viewer",
        "--password-stdin",
        input=PASSWORD + "\n",
    )

    (row,) = licensing.json("staff", "list")
    assert (row["email"], row["role"]) == ("ed@example.org", "viewer")

    assert licensing.json("staff", "set-role", "ed@example.org", "analyst")["role"] == "analyst"
    reset = licensing.json("staff", "reset-password", "ed@example.org")
    staff = accounts.find_staff(session, "ed@example.org")
    assert verify_password(staff.password_hash, reset["password"])
    assert licensing.json("staff", "disable", str(staff.id))["state"] == "disabled"
    assert latest_event(session).action == "staff.disabled"


def test_bad_input_fails_with_a_domain_error(licensing: Licensing) -> None:
    def add(email: str, password: str) -> BaseException:
        return licensing.fails(
            "staff",
            "add",
            email,
            "--name",
            "X",
            "--role",
            "viewer",
            "--password-stdin",
            input=password + "\n",
        )

    assert isinstance(add("x@example.org", "short"), InvalidRequest)
    licensing.ok(
        "staff",
        "add",
        "x@example.org",
        "--name",
        "X",
        "--role",
        "viewer",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert isinstance(add("X@EXAMPLE.org", PASSWORD), Conflict)
    assert isinstance(licensing.fails("staff", "disable", "nobody@example.org"), NotFound)
    assert licensing.run("staff", "set-role", "x@example.org", "owner").exit_code == 2


def test_the_last_active_admin_is_neither_demoted_nor_disabled(
    licensing: Licensing, session: Session
) -> None:
    def add(email: str) -> None:
        licensing.ok(
            "staff",
            "add",
            email,
            "--name",
            "A",
            "--role",
            "admin",
            "--password-stdin",
            input=PASSWORD + "\n",
        )

    add("first@example.org")
    refused = licensing.fails("staff", "set-role", "first@example.org", "viewer")
    assert isinstance(refused, InvalidTransition) and "last active admin" in str(refused)
    assert isinstance(licensing.fails("staff", "disable", "first@example.org"), InvalidTransition)
    add("second@example.org")
    assert licensing.json("staff", "disable", "first@example.org")["state"] == "disabled"
    assert isinstance(licensing.fails("staff", "disable", "second@example.org"), InvalidTransition)


def test_every_staff_command_has_help(licensing: Licensing) -> None:
    for command in ("add", "list", "disable", "set-role", "reset-password"):
        output = licensing.ok("staff", command, "--help")
        assert output.split("\n\n")[1].strip(), command
    assert "--json" in licensing.ok("staff", "list", "--help")
