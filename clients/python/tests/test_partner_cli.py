"""``licensing-client partner``: exit codes, output, errors (fake partner API)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakepartner import (
    API_KEY,
    BASE_URL,
    REQUEST_ID,
    Answer,
    PartnerHarness,
    check_answer,
    license_object,
    problem,
    releases_answer,
    upgrade_object,
)
from licensing_client import PartnerClient, cli

KEY = "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"


@pytest.fixture(autouse=True)
def made(partner: PartnerHarness, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The CLI's PartnerClient talks to the fake server; no key in the environment.

    The list receives the options of each client the CLI makes.
    """
    monkeypatch.delenv("LICENSING_PARTNER_API_KEY", raising=False)
    monkeypatch.delenv("LICENSING_SERVER", raising=False)
    made: list[dict[str, Any]] = []

    def make(base_url: str, api_key: str, **options: Any) -> PartnerClient:
        made.append({"base_url": base_url, **options})
        assert base_url == BASE_URL
        return partner.make_client(api_key=api_key, **options)

    monkeypatch.setattr(cli, "PartnerClient", make)
    return made


def _run(*args: str, key: bool = True) -> int:
    options = ["--server", BASE_URL, *(["--api-key", API_KEY] if key else [])]
    return cli.main(["partner", args[0], *options, *args[1:]])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_valid_and_eligible_exits_0(
    partner: PartnerHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    partner.server.queue(check_answer(upgrade=upgrade_object()))
    assert _run("check", KEY, "--target-version", "2.1.0") == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "valid: demo-mailserver standard, active",
        "expires: never",
        "upgrade protection until: 2027-01-01T00:00:00Z",
        "activations: 1/3",
        "upgrade to 2.1.0: eligible (COVERED), latest eligible version: 2.1.0",
    ]
    assert partner.server.received[0].json == {"license_key": KEY, "target_version": "2.1.0"}


def test_valid_without_a_target_exits_0(partner: PartnerHarness) -> None:
    partner.server.queue(check_answer())
    assert _run("check", KEY) == 0


def test_not_eligible_exits_3(partner: PartnerHarness, capsys: pytest.CaptureFixture[str]) -> None:
    partner.server.queue(
        check_answer(
            upgrade=upgrade_object(
                target_version="3.0.0",
                eligible=False,
                reason="PROTECTION_EXPIRED",
                latest_eligible_version="2.1.0",
                renewal_required=True,
            )
        )
    )
    assert _run("check", KEY, "--target-version", "3.0.0") == 3
    assert capsys.readouterr().out.splitlines()[-1] == (
        "upgrade to 3.0.0: not eligible (PROTECTION_EXPIRED), "
        "latest eligible version: 2.1.0, renewal required"
    )


def test_not_valid_exits_3(partner: PartnerHarness, capsys: pytest.CaptureFixture[str]) -> None:
    partner.server.queue(
        check_answer(license_object(status="suspended", valid=False, code="SUSPENDED"))
    )
    assert _run("check", KEY) == 3
    assert capsys.readouterr().out.startswith("not valid: SUSPENDED: demo-mailserver standard")


def test_json_is_the_answer(partner: PartnerHarness, capsys: pytest.CaptureFixture[str]) -> None:
    answer = check_answer(
        license_object(expires_at="2027-06-30T00:00:00Z"),
        upgrade_object(target_version="9.9.9", eligible=False, reason="UNKNOWN_RELEASE"),
    )
    partner.server.queue(answer)
    assert _run("check", KEY, "--target-version", "9.9.9", "--json") == 3
    printed = json.loads(capsys.readouterr().out)
    assert isinstance(answer.body, dict)
    assert printed == {**answer.body, "request_id": REQUEST_ID}


def test_the_api_key_from_the_environment(
    partner: PartnerHarness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LICENSING_PARTNER_API_KEY", API_KEY)
    monkeypatch.setenv("LICENSING_SERVER", BASE_URL)
    partner.server.queue(releases_answer())
    assert cli.main(["partner", "releases", "demo-mailserver"]) == 0
    assert partner.server.received[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert capsys.readouterr().out.splitlines() == [
        "1.0.0  2025-01-15T00:00:00Z",
        "2.0.0  2026-03-01T12:00:00Z",
        "2.1.0  2026-09-01T00:00:00Z",
    ]


def test_releases_json(partner: PartnerHarness, capsys: pytest.CaptureFixture[str]) -> None:
    answer = releases_answer()
    partner.server.queue(answer)
    assert _run("releases", "demo-mailserver", "--json") == 0
    assert json.loads(capsys.readouterr().out) == answer.body


def test_options_reach_the_client(partner: PartnerHarness, made: list[dict[str, Any]]) -> None:
    partner.server.queue(releases_answer())
    assert _run("releases", "demo-mailserver", "--timeout", "3", "--retries", "0") == 0
    assert made == [{"base_url": BASE_URL, "timeout": 3.0, "retries": 0}]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (problem(404, "LICENSE_NOT_FOUND", "No license with this key"), "LICENSE_NOT_FOUND"),
        (problem(401, "UNAUTHENTICATED", "the API key was revoked"), "UNAUTHENTICATED"),
        (problem(403, "FORBIDDEN", "the API key lacks the licenses:check scope"), "FORBIDDEN"),
        (problem(422, "INVALID_REQUEST", "'x' is not a version"), "INVALID_REQUEST"),
    ],
)
def test_problems_exit_1_with_one_line(
    partner: PartnerHarness, capsys: pytest.CaptureFixture[str], answer: Answer, code: str
) -> None:
    partner.server.queue(answer)
    assert _run("check", KEY, "--target-version", "x") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line(captured.err)
    assert line.startswith(f"licensing-client: error: {code}: ")
    assert f"request id {REQUEST_ID}" in line
    assert API_KEY not in captured.err


def test_rate_limited_after_the_retries_exits_1(
    partner: PartnerHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    limited = problem(429, "RATE_LIMITED", "60 per 1 minute")
    limited.headers = {"Retry-After": "1"}
    partner.server.default = lambda _r: limited
    assert _run("check", KEY, "--retries", "1") == 1
    assert "RATE_LIMITED" in _one_line(capsys.readouterr().err)
    assert partner.sleeps == [1.0]


def test_a_malformed_key_is_a_usage_error_and_not_sent(
    partner: PartnerHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("check", "ABCDE-FGHJK") == 2
    assert "MALFORMED_KEY" in _one_line(capsys.readouterr().err)
    assert partner.server.received == []


def test_a_missing_api_key_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("check", KEY, key=False) == 2
    assert "--api-key (or LICENSING_PARTNER_API_KEY) is required" in _one_line(
        capsys.readouterr().err
    )


def test_a_missing_license_key_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("check") == 2
    assert "LICENSE_KEY" in _one_line(capsys.readouterr().err)


def test_a_bad_api_key_is_a_usage_error_without_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["partner", "check", "--server", BASE_URL, "--api-key", "lpk_a b", KEY])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert "CLIENT_CONFIGURATION" in line
    assert "lpk_a b" not in line


def test_partner_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["partner"]) == 2
    assert _one_line(capsys.readouterr().err).startswith("licensing-client: error: usage:")
