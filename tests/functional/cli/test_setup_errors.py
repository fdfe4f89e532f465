"""A new operator's setup mistakes: one ``error:`` line that names the fix, exit 1.

The real entry point in subprocesses (see test_errors.py): a PostgreSQL URL without the
``postgres`` extra, an instance folder that is a file, cannot be created or is read-only,
and ``licensing serve`` on a port another process already listens on.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.cli.test_errors import describe, run, without_traceback

POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/whatever"
# Keys from the environment: no development key files, and no warning that they were made.
KEYS = {
    "LICENSING_MASTER_KEY": base64.b64encode(os.urandom(32)).decode("ascii"),
    "LICENSING_SECRET_KEY": "a-secret-key-long-enough-for-the-sessions-here",
}
INSTANCE_FIX = "set LICENSING_INSTANCE_PATH to a folder this user can write"


def one_error_line(completed: subprocess.CompletedProcess[str]) -> str:
    without_traceback(completed)
    assert completed.returncode == 1, describe(completed)
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, describe(completed)
    assert lines[0].startswith("error: "), describe(completed)
    return lines[0]


def test_a_postgresql_url_without_the_driver_names_the_extra(tmp_path: Path) -> None:
    # The driver is installed here: the child process is made to find none.
    program = (
        "import sys; sys.modules['psycopg'] = None; sys.argv = ['licensing', 'product', 'list'];"
        " from licensing.cli import main; main()"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    environment |= {
        "LICENSING_INSTANCE_PATH": str(tmp_path),
        "LICENSING_DATABASE_URL": POSTGRESQL_URL,
        **KEYS,
    }
    completed = subprocess.run(
        [sys.executable, "-c", program],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    line = one_error_line(completed)
    assert "psycopg" in line, line
    assert 'pip install "licensing[postgres]"' in line, line


def test_an_instance_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    path.write_text("not a folder\n", encoding="utf-8")

    line = one_error_line(run(path, "product", "list"))
    assert f"the instance folder {path} is a file" in line, line
    assert INSTANCE_FIX in line, line


def test_an_instance_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    path = tmp_path / "afile" / "sub"

    line = one_error_line(run(path, "product", "list"))
    assert f"the instance folder {path} cannot be created (Not a directory)" in line, line
    assert INSTANCE_FIX in line, line


def test_a_key_file_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "master.key").mkdir()

    line = one_error_line(run(tmp_path, "product", "list"))
    assert f"{tmp_path / 'master.key'} is a folder, not a key file" in line, line


def test_a_postgresql_url_for_another_driver_names_the_one_to_use(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1/x"
    completed = run(tmp_path, "product", "list", env={"LICENSING_DATABASE_URL": url, **KEYS})

    line = one_error_line(completed)
    assert "postgresql+psycopg://" in line, line


def test_an_instance_path_that_cannot_be_created() -> None:
    path = Path("/proc/licensing-instance")  # not even root can create a folder here

    line = one_error_line(run(path, "product", "list"))
    assert f"the instance folder {path} cannot be created" in line, line
    assert INSTANCE_FIX in line, line


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs here")
def test_an_instance_folder_no_one_can_write() -> None:
    path = Path("/sys/kernel")  # a folder, read-only even for root

    line = one_error_line(run(path, "product", "list"))
    assert f"the instance folder {path} is not writable" in line, line
    assert INSTANCE_FIX in line, line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_instance_folder(tmp_path: Path) -> None:
    path = tmp_path / "instance"
    path.mkdir(mode=0o500)
    try:
        line = one_error_line(run(path, "product", "list"))
    finally:
        path.chmod(0o700)
    assert f"the instance folder {path} is not writable" in line, line
    assert INSTANCE_FIX in line, line


def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        completed = run(tmp_path / "instance", "serve", "--port", str(port), env=KEYS)

    line = one_error_line(completed)
    assert f"127.0.0.1:{port} is already in use" in line, line
    assert "--port" in line, line
    assert completed.stdout == "", describe(completed)
