"""``licensing.cli.main()`` in-process: how each kind of failure becomes one ``error:`` line.

main() is run inside the test's application context, so commands use the test database
(and its rolled-back transaction) on either backend; test_errors.py runs the installed
command in subprocesses for the cases an operator meets most.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from licensing.cli import main
from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.services import catalog
from tests.factories import make_edition, make_license, make_product
from tests.functional.cli.invoke import key_with_a_dashed_key_id

UNKNOWN_KEY = license_keys.format_key("0" * 24 + license_keys.check_symbol("0" * 24))


RunMain = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_main(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> RunMain:
    """main() with ``args`` in the test app's context: exit code, stdout and stderr."""
    # Were the test app's context missing, main() would build an app from the
    # environment: never let that touch the checkout's instance folder.
    monkeypatch.setenv("LICENSING_INSTANCE_PATH", str(tmp_path))

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["licensing", *args])
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def error_line(code: int, out: str, err: str) -> str:
    assert code != 0
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def license_id(session: Session, sealer: Sealer) -> str:
    """A perpetual license of product ``mailserver``."""
    product = make_product(session, code="mailserver")
    issued = make_license(session, sealer, edition=make_edition(session, product=product))
    return str(issued.license.id)


def test_success_prints_the_output_and_exits_normally(run_main: RunMain) -> None:
    code, out, err = run_main("product", "list")
    assert (code, out.strip(), err) == (0, "(none)", "")


@pytest.mark.parametrize("args", [(), ("license",)], ids=["licensing", "licensing license"])
def test_a_group_without_a_command_shows_its_help_not_an_error(
    run_main: RunMain, args: tuple[str, ...]
) -> None:
    code, out, err = run_main(*args)

    assert code == 2  # as click does: usage on standard error
    assert out == ""
    assert err.startswith(f"Usage: licensing {' '.join((*args, ''))}[OPTIONS] COMMAND")
    assert "\nCommands:\n" in err
    assert "error:" not in err
    assert "(see --help)" not in err


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (
            ("product", "add", "Mail Server", "--name", "x"),
            1,
            "error: product code 'Mail Server' must be 1-64 lower-case letters",
        ),
        (("product", "add", "mailserver", "--name", "Again"), 1, "already exists"),
        (("license", "show", UNKNOWN_KEY), 1, "error: no license matches that id or key"),
        (("license", "show", "not a key!"), 1, "which is not a key symbol"),
        (
            ("release", "add", "mailserver", "1.0", "--date", "2026-01-01T10:00:00"),
            2,
            "has no time zone; add Z or an offset such as +00:00 (see --help)",
        ),
        (("license", "list", "--status", "bogus"), 2, "Invalid value for '--status'"),
        (("license", "list", "--product", "nope"), 1, "error: no product with code 'nope'"),
        (("licence", "list"), 2, "error: No such command 'licence'"),
        (
            ("customer", "add", "--name", "Ada", "--email", "not-an-address"),
            1,
            "error: 'not-an-address' is not an e-mail address",
        ),
        (
            ("edition", "add", "mailserver", "x", "--max-activations", "0"),
            2,
            "error: Invalid value for '--max-activations': 0 is not in the range 1<=x<=1000000.",
        ),
        (
            ("license", "extend", "{license}", "--days", "5"),
            1,
            "error: the license is perpetual; there is no term to extend",
        ),
        (
            ("license", "renew", "{license}", "--months", "1", "--until", "2045-01-01"),
            1,
            "error: give --months or --until, not both",
        ),
        (("license", "suspend", "{license}"), 2, "Missing option '--reason'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_bad_input_is_one_error_line(
    run_main: RunMain,
    license_id: str,
    args: tuple[str, ...],
    exit_code: int,
    message: str,
) -> None:
    args = tuple(arg.format(license=license_id) for arg in args)

    code, out, err = run_main(*args)

    assert code == exit_code, err
    assert message in error_line(code, out, err)


def test_a_key_id_taken_for_an_option_gets_a_hint(run_main: RunMain) -> None:
    key_id = key_with_a_dashed_key_id().key_id

    code, out, err = run_main("license", "show", key_id, "--json")

    assert code == 2
    line = error_line(code, out, err)
    assert line.startswith("error: No such option ")
    assert line.endswith(f"(a key id starting with '-' goes after '--': ... -- {key_id})")


@pytest.mark.parametrize(
    ("raised", "line"),
    [
        (RuntimeError("boom\nand more"), "error: unexpected RuntimeError: boom"),
        (
            OperationalError("SELECT 1", {}, Exception("server closed the connection\ndetail")),
            "error: database unavailable: server closed the connection",
        ),
        (
            IntegrityError("INSERT", {}, Exception("duplicate key value\nDETAIL: ...")),
            "error: database: duplicate key value",
        ),
    ],
    ids=["unexpected", "database unavailable", "database error"],
)
def test_unexpected_failures_are_one_line_too(
    run_main: RunMain,
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    line: str,
) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(catalog, "list_products", fail)

    code, out, err = run_main("product", "list")

    assert code == 1
    assert error_line(code, out, err) == line


def test_unknown_key_id_is_not_found_rather_than_malformed(run_main: RunMain) -> None:
    line = error_line(*run_main("license", "show", "--", "AAAAAAAAAAAAAAAAAAAAAA"))
    assert line == "error: no license has that key id"


def test_out_of_range_numbers_are_usage_errors(run_main: RunMain, license_id: str) -> None:
    code, out, err = run_main("license", "renew", license_id, "--months", "99999999")
    assert code == 2
    assert "is not in the range" in error_line(code, out, err)
