"""The CLI without a server: usage errors, option parsing, offline status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeserver import VECTOR_KEY
from licensing_client import cli


@pytest.fixture
def jwks_file(tmp_path: Path, jwks: dict[str, Any]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    return path


def _options(tmp_path: Path, jwks_file: Path) -> list[str]:
    return [
        "--server",
        "http://127.0.0.1:9",
        "--product",
        "demo-mailserver",
        "--state-dir",
        str(tmp_path / "state"),
        "--jwks",
        str(jwks_file),
    ]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_key_is_a_usage_error(
    tmp_path: Path,
    jwks_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LICENSING_KEY", raising=False)
    assert cli.main(["status", *_options(tmp_path, jwks_file)]) == 2
    assert "--key (or LICENSING_KEY) is required" in _one_line(capsys.readouterr().err)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["launch"]) == 2
    assert _one_line(capsys.readouterr().err).startswith("licensing-client: error: usage:")


def test_malformed_key_is_a_usage_error(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["status", "--key", "ABCDE-FGHJK", *_options(tmp_path, jwks_file)])
    assert code == 2
    assert "MALFORMED_KEY" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("usage", ["mailboxes", "mailboxes=-1", "=3", "mailboxes=many"])
def test_bad_usage_values(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str], usage: str
) -> None:
    argv = ["check-in", "--key", VECTOR_KEY, "--usage", usage, *_options(tmp_path, jwks_file)]
    assert cli.main(argv) == 2
    assert "--usage" in _one_line(capsys.readouterr().err)


def test_status_without_activation_exits_3(
    tmp_path: Path,
    jwks_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LICENSING_KEY", VECTOR_KEY)
    assert cli.main(["status", "--json", *_options(tmp_path, jwks_file)]) == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["valid"], out["code"]) == (False, "NOT_ACTIVATED")


def test_missing_version_is_a_usage_error(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["activate", "--key", VECTOR_KEY, *_options(tmp_path, jwks_file)]
    assert cli.main(argv) == 2
    assert "product_version" in _one_line(capsys.readouterr().err)


def test_unreachable_server_is_an_error_with_its_code(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check-in", "--key", VECTOR_KEY, "--version", "2.1.0", "--retries", "0"]
    assert cli.main([*argv, *_options(tmp_path, jwks_file)]) == 1
    assert "SERVER_UNREACHABLE" in _one_line(capsys.readouterr().err)


def test_a_bad_jwks_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": []}')
    assert cli.main(["status", "--key", VECTOR_KEY, *_options(tmp_path, bad)]) == 2
    assert "CLIENT_CONFIGURATION" in _one_line(capsys.readouterr().err)
