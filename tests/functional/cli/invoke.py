"""Running the ``licensing`` command in-process and reading what it prints."""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result
from flask.testing import FlaskCliRunner

from licensing.cli import cli
from licensing.crypto import license_keys
from licensing.crypto.license_keys import LicenseKey


class Licensing:
    """``licensing`` run through the test app's CLI runner, so it shares the test session.

    The runner calls the click group directly, not ``licensing.cli.main()``: an error
    ends up in ``Result.exception`` rather than as an ``error:`` line (test_errors.py
    covers that through the installed command).
    """

    def __init__(self, runner: FlaskCliRunner) -> None:
        self.runner = runner

    def run(self, *args: str, input: str | None = None) -> Result:
        """``licensing ARGS``; ``input`` is what the operator types (answers to prompts)."""
        return self.runner.invoke(cli, list(args), input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run a command that must succeed; what it printed on standard output."""
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (
            f"licensing {' '.join(args)} exited {result.exit_code}: "
            f"{result.exception!r}\n{result.output}"
        )
        return result.stdout

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run a command that must succeed, with ``--json``; its parsed output."""
        end = args.index("--") if "--" in args else len(args)  # options go before a '--'
        return json.loads(self.ok(*args[:end], "--json", *args[end:], input=input))

    def fails(self, *args: str, input: str | None = None) -> BaseException:
        """Run a command that must fail; the exception that ``main()`` would print."""
        result = self.run(*args, input=input)
        assert result.exit_code != 0, f"licensing {' '.join(args)} succeeded:\n{result.output}"
        assert result.exception is not None
        return result.exception


def key_with_a_dashed_key_id() -> LicenseKey:
    """A license key whose key id starts with '-' (one in 64 does)."""
    while True:
        key = license_keys.generate()
        if key.key_id.startswith("-"):
            return key


def fields(output: str) -> dict[str, str]:
    """The ``name  value`` lines a single record prints as."""
    record = {}
    for line in output.splitlines():
        name, _, value = line.partition(" ")
        record[name] = value.strip()
    return record


def table(output: str) -> list[dict[str, str]]:
    """The rows of an aligned table, keyed by lower-cased column header."""
    header, *lines = output.splitlines()
    names, starts, position = header.split(), [], 0
    for name in names:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    ends: list[int | None] = [*starts[1:], None]
    return [
        {
            name.lower(): line[start:end].strip()
            for name, start, end in zip(names, starts, ends, strict=True)
        }
        for line in lines
    ]
