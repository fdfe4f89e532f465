"""The CLI without a server: usage errors, option parsing, offline status."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fakeserver import PRODUCT, VECTOR_KEY, Harness, problem
from licensing_client import cli, keys


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
    assert cli.main(["check-in", *_options(tmp_path, jwks_file)]) == 2
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


@pytest.mark.parametrize("command", ["activate", "check-in"])
def test_missing_version_is_a_usage_error(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = [command, "--key", VECTOR_KEY, *_options(tmp_path, jwks_file)]
    assert cli.main(argv) == 2
    said = _one_line(capsys.readouterr().err)
    assert "--version (or LICENSING_PRODUCT_VERSION) is required" in said
    assert "InstanceClient" not in said  # the shell user never sees the class


def test_unreachable_server_says_what_failed_in_one_short_sentence(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = _options(tmp_path, jwks_file)
    options[1] = f"http://127.0.0.1:{port}/prefix"
    argv = ["check-in", "--key", VECTOR_KEY, "--version", "2.1.0", "--retries", "0"]

    assert cli.main([*argv, *options]) == 1
    assert _one_line(capsys.readouterr().err) == (
        "licensing-client: error: SERVER_UNREACHABLE: "
        f"could not connect to http://127.0.0.1:{port}: connection refused"
    )


def test_a_refused_field_is_named_on_the_error_line(
    harness: Harness,
    tmp_path: Path,
    jwks_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness.server.queue(
        problem(
            422,
            "INVALID_REQUEST",
            "Invalid request.",
            errors={"server_name": ["Not a valid string."]},
        )
    )
    monkeypatch.setattr(cli, "InstanceClient", lambda *args, **kwargs: harness.client)
    argv = ["activate", "--key", VECTOR_KEY, "--version", "2.1.0", *_options(tmp_path, jwks_file)]

    assert cli.main(argv) == 1
    assert _one_line(capsys.readouterr().err) == (
        "licensing-client: error: INVALID_REQUEST: Invalid request: server_name: Not a valid "
        "string. (status 422, request id fake-request-0001)"
    )


def other_valid_key() -> str:
    """A well-formed license key other than the test vector."""
    body = "2" * 24
    return keys.formatted(body + keys.check_symbol(body))


@pytest.fixture
def activated(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """An activation stored by the client, its lease valid by the real clock."""
    harness.clock.now = time.time()
    harness.activate()
    for variable in ("LICENSING_SERVER", "LICENSING_KEY", "LICENSING_PRODUCT"):
        monkeypatch.delenv(variable, raising=False)
    return harness


def test_status_needs_only_the_state_directory_and_the_pinned_keys(
    activated: Harness, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["status", "--state-dir", str(activated.state_dir), "--jwks", str(jwks_file)]

    assert cli.main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["valid"], out["code"]) == (True, "VALID")
    assert out["activation_id"] == Harness.ACTIVATION_ID
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("valid until ")
    assert len(activated.server.seen) == 1  # the activation; status sent nothing


@pytest.mark.parametrize(
    "mismatch",
    [["--product", "another-product"], ["--key", other_valid_key()]],
    ids=["product", "key"],
)
def test_status_given_a_key_or_product_checks_the_activation_was_theirs(
    activated: Harness, jwks_file: Path, capsys: pytest.CaptureFixture[str], mismatch: list[str]
) -> None:
    argv = ["status", "--state-dir", str(activated.state_dir), "--jwks", str(jwks_file)]

    assert cli.main([*argv, *mismatch, "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["code"] == "NOT_ACTIVATED"
    assert cli.main([*argv, "--product", PRODUCT, "--key", VECTOR_KEY]) == 0


def test_status_without_state_or_keys_is_a_usage_error(
    tmp_path: Path,
    jwks_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LICENSING_STATE_DIR", raising=False)
    monkeypatch.delenv("LICENSING_JWKS", raising=False)
    assert cli.main(["status", "--jwks", str(jwks_file)]) == 2
    assert "--state-dir (or LICENSING_STATE_DIR) is required" in _one_line(capsys.readouterr().err)
    assert cli.main(["status", "--state-dir", str(tmp_path)]) == 2
    assert "--jwks (or LICENSING_JWKS) is required" in _one_line(capsys.readouterr().err)


def test_status_of_a_missing_state_directory_creates_nothing(
    tmp_path: Path, jwks_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert cli.main(["status", "--state-dir", str(missing), "--jwks", str(jwks_file)]) == 3
    assert "NOT_ACTIVATED" in capsys.readouterr().out
    assert not missing.exists()


def test_a_bad_jwks_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": []}')
    assert cli.main(["status", "--key", VECTOR_KEY, *_options(tmp_path, bad)]) == 2
    assert "CLIENT_CONFIGURATION" in _one_line(capsys.readouterr().err)
