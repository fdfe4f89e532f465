"""Commands refuse a master key that does not open the database's sealed data.

In-process, on the test database (SQLite or PostgreSQL): the data is sealed under the
test's master key inside the test's transaction, which the apps built here share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from licensing import create_app
from licensing.cli import cli, serve
from licensing.config import new_master_key


def run_in(app: Flask, *args: str) -> Any:
    with app.app_context():  # the runner alone would run in the test's app
        return app.test_cli_runner().invoke(cli, list(args))


def test_serve_refuses_to_start_with_a_master_key_that_opens_nothing(
    app: Flask, app_config: dict[str, Any], server_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(serve.os, "execve", lambda _path, argv, _env: started.append(argv))
    wrong = create_app({**app_config, "LICENSING_MASTER_KEY": new_master_key()})

    result = run_in(wrong, "serve", "--port", "8123")

    assert result.exit_code != 0
    assert "does not open the server signing key" in str(result.exception)
    assert started == []


def test_a_key_file_generated_beside_sealed_data_is_taken_back(
    app: Flask, app_config: dict[str, Any], server_key: str, tmp_path: Path
) -> None:
    # A development instance whose key file was lost, on a database this check cannot
    # look into before the app is built (PostgreSQL, or data not yet committed).
    config = {k: v for k, v in app_config.items() if k != "LICENSING_MASTER_KEY"}
    lost = create_app({**config, "LICENSING_INSTANCE_PATH": str(tmp_path)})

    result = run_in(lost, "license", "list")

    assert result.exit_code != 0
    assert str(result.exception) == (
        f"the master key file {tmp_path / 'master.key'} is missing but the database holds "
        "data sealed under it: restore the key file or set LICENSING_MASTER_KEY"
    )
    assert not (tmp_path / "master.key").exists()
