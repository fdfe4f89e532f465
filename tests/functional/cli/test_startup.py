"""What the ``licensing`` command loads to start: each command's module only when used.

The figures are in bench/cli_startup.py; these check what is imported, which does not
depend on the machine. Each runs the entry point in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from licensing import cli as licensing_cli
from licensing.cli import COMMANDS, cli
from licensing.cli.options import REASON

# Runs ``licensing ARGS`` and prints the names of the modules it imported, as JSON.
PROBE = """
import json, sys
from licensing.cli import main
sys.argv = ["licensing", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
HEAVY = ("flask_smorest", "marshmallow", "flask_limiter", "alembic", "flask_migrate")


def imported(tmp_path: Path, *args: str) -> set[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    environment |= {"LICENSING_INSTANCE_PATH": str(tmp_path), "LICENSING_LOG_JSON": "false"}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    modules: list[str] = json.loads(completed.stderr.splitlines()[-1])
    return set(modules)


def loaded(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for name in modules)


def test_help_imports_no_command_and_no_database_code(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")

    for package in (*HEAVY, "sqlalchemy", "flask_sqlalchemy", "licensing.api"):
        assert not loaded(modules, package), package
    commands = {module for module, _, _ in COMMANDS.values()}
    assert not commands & modules


def test_a_read_command_loads_neither_the_http_api_nor_migrations(tmp_path: Path) -> None:
    imported(tmp_path, "product", "list")  # the first run creates the embedded database

    modules = imported(tmp_path, "product", "list")

    assert "licensing.cli.catalog" in modules
    for package in (*HEAVY, "licensing.api", "licensing.cli.partners", "licensing.cli.serve"):
        assert not loaded(modules, package), package


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_command_list_says_what_each_command_says_of_itself(name: str) -> None:
    with click.Context(cli) as context:
        command = cli.get_command(context, name)
    assert command is not None
    assert command.name == name
    summary = click.Command(name, help=COMMANDS[name][2])

    assert summary.get_short_help_str(200) == command.get_short_help_str(200)


def test_the_server_gets_the_http_api_and_other_commands_do_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LICENSING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("LICENSING_DATABASE_URL", raising=False)
    apps = {}
    for name in ("serve", "product"):
        with click.Context(cli) as context:
            context.invoked_subcommand = name
            apps[name] = licensing_cli._create_app()

    assert {"meta", "instance", "partner"} <= set(apps["serve"].blueprints)
    assert apps["product"].blueprints == {}
    assert "migrate" in apps["product"].extensions  # bound when a migration runs


def reason_options(group: click.Group, context: click.Context) -> list[tuple[str, click.Option]]:
    found = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", o) for sub, o in reason_options(command, context)]
        elif command is not None:
            found += [
                (name, p)
                for p in command.params
                if isinstance(p, click.Option) and "--reason" in p.opts
            ]
    return found


def test_every_reason_option_refuses_a_blank_reason() -> None:
    with click.Context(cli) as context:
        options = reason_options(cli, context)

    assert {name for name, _ in options} >= {
        "license suspend",
        "license reinstate",
        "license revoke",
        "license release-seat",
    }
    for name, option in options:
        assert option.type is REASON, name
