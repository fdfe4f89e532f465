"""Finding the server command for the live tests: fail under CI, skip elsewhere."""

from __future__ import annotations

from pathlib import Path

import livesrv
import pytest


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LICENSING_SERVER_COMMAND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(livesrv, "FALLBACK_COMMANDS", (tmp_path / "missing",))


@pytest.mark.usefixtures("no_server")
def test_without_a_server_command_ci_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        livesrv.require_server_command()


@pytest.mark.usefixtures("no_server")
def test_without_a_server_command_a_developer_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="LICENSING_SERVER_COMMAND"):
        livesrv.require_server_command()


def test_the_environment_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENSING_SERVER_COMMAND", "/opt/server/bin/licensing --flag")
    assert livesrv.server_command() == ["/opt/server/bin/licensing", "--flag"]
