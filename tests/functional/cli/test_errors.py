"""The installed ``licensing`` command: bad input is one ``error:`` line and a non-zero exit.

These run the real entry point (``licensing.cli.main``) in subprocesses, each on an
SQLite database in its own instance folder, never on the test database. Commands that
need no particular order run in parallel from one module fixture to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from licensing.database import head_revisions

DATABASE_FILE = "licensing.sqlite3"


def licensing_command() -> str:
    """The console script of this virtualenv (installed by ``pip install -e .``)."""
    beside_python = Path(sys.executable).with_name("licensing")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("licensing")
    if found is None:
        pytest.fail("the `licensing` console script is not installed: pip install -e .")
    return found


def run(
    instance: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``licensing ARGS`` with only the given ``LICENSING_*`` settings (nothing inherited).

    Standard input is ``input``, or closed as in a script where nobody answers a question.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    environment |= {"LICENSING_INSTANCE_PATH": str(instance), "LICENSING_LOG_JSON": "false"}
    environment |= dict(env or {})
    return subprocess.run(
        [licensing_command(), *args],
        env=environment,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def without_traceback(
    completed: subprocess.CompletedProcess[str],
) -> subprocess.CompletedProcess[str]:
    """``completed``, once it is checked that it printed no traceback."""
    assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
    return completed


def describe(completed: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {completed.returncode}\nstdout: {completed.stdout!r}\nstderr: {completed.stderr!r}"
    )


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # split like a shell would; {license} is the seeded demo license's id
    message: str  # a fragment of the one error line
    exit_code: int = 1  # usage errors (click's) exit 2
    env: dict[str, str] = field(default_factory=dict)


ISSUE = "license issue --product demo-mailserver"
ERROR_CASES = (
    Case("unknown product", "release add nope 1.0", "no product with code 'nope'"),
    Case(
        "malformed key",
        "license show ABCDE-12345",
        "license key has 10 symbols; it needs 25 (five groups of five)",
    ),
    Case(
        "bad date",
        "release add demo-mailserver 1.0 --date 2026-13-01",
        "Invalid value for '--date': '2026-13-01' is not a date",
        exit_code=2,
    ),
    Case("bad version", "release add demo-mailserver 1.x", "'1.x' is not a version"),
    Case(
        "unknown edition",
        f"{ISSUE} --edition gold --customer demo-customer@example.com",
        "product 'demo-mailserver' has no edition 'gold'",
    ),
    Case(
        "unknown customer",
        f"{ISSUE} --edition standard --customer nobody@example.com",
        "no customer 'nobody@example.com'",
    ),
    Case(
        "missing required option",
        f"{ISSUE} --edition standard",
        "Missing option '--customer'",
        exit_code=2,
    ),
    Case(
        "invalid transition",
        "license reinstate {license} --reason 'all good'",
        "cannot reinstate a license that is active",
    ),
    Case(
        "revoking alone under four eyes",
        "license revoke {license} --reason refunded --yes",
        "LICENSING_FOUR_EYES is on: a revocation needs a second admin's approval",
        env={"LICENSING_FOUR_EYES": "true"},
    ),
    Case(
        "blank reason",
        "license suspend {license} --reason ' '",
        "Invalid value for '--reason': must not be empty",
        exit_code=2,
    ),
    Case(
        "e-mail of another customer",
        "customer add --name Other --email DEMO-Customer@example.com",
        "already has that e-mail address",
    ),
    Case(
        "master key not base64",
        "product list",
        "LICENSING_MASTER_KEY is not valid base64",
        env={"LICENSING_MASTER_KEY": "notbase64"},
    ),
    Case(
        "production without secrets",
        "product list",
        "LICENSING_MASTER_KEY must be set in production",
        env={"LICENSING_ENV": "production"},
    ),
    Case(
        "not an audit checkpoint",
        "audit verify --checkpoint {instance}/demo.json",
        "demo.json: not an audit checkpoint (not a signed token)",
    ),
    Case(
        "unreachable PostgreSQL",
        "product list",
        "database unavailable: ",
        env={"LICENSING_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x"},
    ),
)
OTHER_RUNS = {
    "help": ("--help",),
    "license help": ("license", "--help"),
}


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder seeded by ``licensing demo`` (which migrates it first)."""
    folder = tmp_path_factory.mktemp("instance")
    seeded = without_traceback(run(folder, "demo", "--json"))
    assert seeded.returncode == 0, describe(seeded)
    (folder / "demo.json").write_text(seeded.stdout, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def runs(instance: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case and the help runs, in parallel, against the seeded instance."""
    demo = json.loads((instance / "demo.json").read_text(encoding="utf-8"))
    jobs = {
        case.name: (
            shlex.split(case.command.format(license=demo["id"], instance=instance)),
            case.env,
        )
        for case in ERROR_CASES
    }
    jobs |= {name: (list(args), {}) for name, args in OTHER_RUNS.items()}
    with ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 2)) as pool:
        futures = {
            name: pool.submit(run, instance, *args, env=env) for name, (args, env) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_bad_input_is_one_error_line(
    case: Case, runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    completed = without_traceback(runs[case.name])

    assert completed.returncode == case.exit_code, describe(completed)
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, describe(completed)
    line = lines[0]
    assert line.startswith("error: "), describe(completed)
    assert case.message in line, describe(completed)
    assert completed.stdout == "", describe(completed)


def listed_commands(help_text: str) -> set[str]:
    """The command names under ``Commands:`` in click's help."""
    _, _, section = help_text.partition("\nCommands:\n")
    return {line.split()[0] for line in section.splitlines() if line.startswith("  ")}


def test_help(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    completed = without_traceback(runs["help"])

    assert completed.returncode == 0, describe(completed)
    assert completed.stdout.startswith("Usage: licensing [OPTIONS] COMMAND")
    assert listed_commands(completed.stdout) >= {
        *("serve", "db", "demo", "product", "release", "edition"),
        *("customer", "license", "keys", "audit"),
    }
    assert completed.stderr == ""


def test_license_help(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    completed = without_traceback(runs["license help"])

    assert completed.returncode == 0, describe(completed)
    assert completed.stdout.startswith("Usage: licensing license [OPTIONS] COMMAND")
    assert listed_commands(completed.stdout) == {
        *("issue", "show", "list", "suspend", "reinstate", "revoke", "renew", "extend"),
        *("activations", "release-seat", "usage"),
    }
    assert completed.stderr == ""


def test_a_fresh_instance_folder_is_migrated_on_first_use(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"

    completed = without_traceback(run(folder, "product", "list"))

    assert completed.returncode == 0, describe(completed)
    assert completed.stdout.strip() == "(none)"
    assert "error:" not in completed.stderr
    with sqlite3.connect(folder / DATABASE_FILE) as database:
        versions = {row[0] for row in database.execute("SELECT version_num FROM alembic_version")}
    assert versions == set(head_revisions())
    # Development secrets are generated once, readable by the owner only.
    for secret in ("master.key", "secret.key"):
        assert (folder / secret).stat().st_mode & 0o777 == 0o600


def test_audit_verify_exits_1_when_the_chain_is_broken(instance: Path, tmp_path: Path) -> None:
    copy = tmp_path / "instance"
    shutil.copytree(instance, copy)

    intact = without_traceback(run(copy, "audit", "verify", "--json"))
    assert intact.returncode == 0, describe(intact)
    report = json.loads(intact.stdout)
    assert report["intact"] is True
    assert report["events"] > 2

    with sqlite3.connect(copy / DATABASE_FILE) as database:
        database.execute("UPDATE audit_events SET actor = 'cli:mallory' WHERE seq = 2")
    database.close()

    broken = without_traceback(run(copy, "audit", "verify", "--json"))
    assert broken.returncode == 1, describe(broken)
    report = json.loads(broken.stdout)
    assert (report["intact"], report["first_broken_seq"]) == (False, 2)
    assert report["problem"] == "event 2 was altered after it was written"
    assert broken.stderr == ""
