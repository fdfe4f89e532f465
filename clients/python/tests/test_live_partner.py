"""PartnerClient and ``licensing-client partner`` against the real server (PROTOCOL.md §6).

The server runs in a subprocess: ``licensing demo --json``, then ``licensing partner add
Acme --kind reseller --product demo-mailserver`` and ``licensing partner key create Acme
--json`` for the API key. Without a server command these tests fail when ``CI`` is set and
skip otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from licensing_client import (
    ForbiddenError,
    InvalidRequestError,
    LicenseNotFoundError,
    MalformedKeyError,
    NotFoundError,
    PartnerClient,
    RateLimitedError,
    UnauthenticatedError,
)
from licensing_client.keys import ALPHABET, check_symbol
from licensing_client.models import parse_time
from livesrv import LiveServer, client_command, require_server_command

pytestmark = pytest.mark.live
PRODUCT = "demo-mailserver"
PARTNER = "Acme"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(require_server_command(), tmp_path_factory.mktemp("partner-server"))
    live.instance.mkdir(parents=True, exist_ok=True)
    live.demo_license()  # seeds the product, releases 1.0.0/2.0.0/2.1.0 and the server key
    live.add_partner(PARTNER, kind="reseller", products=[PRODUCT])
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    key: str = server.partner_key(PARTNER)["api_key"]
    return key


@pytest.fixture(scope="module")
def demo(server: LiveServer) -> dict[str, Any]:
    """A demo license record (``license_key``, ``key_id``, …) for tests that only read it."""
    return server.demo_license()


@pytest.fixture
def fresh_demo(server: LiveServer) -> dict[str, Any]:
    """A demo license of the test's own, to revoke or to count disclosures about."""
    return server.demo_license()


@pytest.fixture
def client(server: LiveServer, api_key: str) -> Iterator[PartnerClient]:
    with PartnerClient(server.url, api_key, backoff=0.05) as partner:
        yield partner


def _unknown_key() -> str:
    first_24 = "".join(secrets.choice(ALPHABET) for _ in range(24))
    return first_24 + check_symbol(first_24)


def test_the_demo_license_is_valid_and_eligible_for_2_1_0(
    client: PartnerClient, demo: dict[str, Any]
) -> None:
    check = client.check(demo["license_key"], target_version="2.1.0")
    lic = check.license
    assert (lic.product, lic.edition, lic.status) == (PRODUCT, demo["edition"], "active")
    assert (lic.valid, lic.code) == (True, "VALID")
    assert lic.expires_at is None
    assert lic.upgrade_protection_until == parse_time(demo["upgrade_protection_until"])
    assert lic.upgrade_protection_until is not None
    assert lic.upgrade_protection_until > datetime.now(UTC)
    assert (lic.activations_used, lic.activations_allowed) == (0, demo["activations"]["allowed"])
    assert check.upgrade is not None
    assert check.upgrade.target_version == "2.1.0"
    assert (check.upgrade.eligible, check.upgrade.reason) == (True, "COVERED")
    assert check.upgrade.latest_eligible_version == "2.1.0"
    assert check.upgrade.renewal_required is False
    assert check.ok
    assert check.request_id


def test_any_key_formatting_and_no_target(client: PartnerClient, demo: dict[str, Any]) -> None:
    typed = demo["license_key"].lower().replace("-", " ").replace("1", "l").replace("0", "o")
    check = client.check(typed)
    assert (check.valid, check.upgrade, check.ok) == (True, None, True)


def test_an_unknown_release(client: PartnerClient, demo: dict[str, Any]) -> None:
    check = client.check(demo["license_key"], target_version="9.9.9")
    assert check.valid
    assert check.upgrade is not None
    assert (check.upgrade.eligible, check.upgrade.reason) == (False, "UNKNOWN_RELEASE")
    assert check.upgrade.renewal_required is False
    assert check.upgrade.latest_eligible_version == "2.1.0"
    assert not check.ok


def test_an_unknown_key_is_license_not_found(client: PartnerClient) -> None:
    with pytest.raises(LicenseNotFoundError) as caught:
        client.check(_unknown_key(), target_version="2.1.0")
    error = caught.value
    assert (error.status, error.code) == (404, "LICENSE_NOT_FOUND")
    assert error.request_id
    assert error.problem["request_id"] == error.request_id


def test_another_products_key_answers_like_an_unknown_key(
    server: LiveServer, client: PartnerClient, demo: dict[str, Any]
) -> None:
    server.cli("product", "add", "other-product", "--name", "Other product")
    server.cli("edition", "add", "other-product", "basic")
    issued = json.loads(
        server.cli(
            "license",
            "issue",
            "--product",
            "other-product",
            "--edition",
            "basic",
            "--customer",
            demo["customer_id"],
            "--json",
        )
    )
    problems = []
    for key in (issued["license_key"], _unknown_key()):
        with pytest.raises(LicenseNotFoundError) as caught:
            client.check(key)
        problems.append(caught.value.problem)
    other, unknown = problems
    assert other["request_id"] != unknown["request_id"]
    del other["request_id"], unknown["request_id"]
    assert other == unknown


def test_a_malformed_key_is_refused_before_sending(client: PartnerClient) -> None:
    with pytest.raises(MalformedKeyError):
        client.check("ABCDE-FGHJK-MNPQR")


def test_a_revoked_license_is_not_valid(
    server: LiveServer, client: PartnerClient, fresh_demo: dict[str, Any]
) -> None:
    server.cli(
        # After "--": a key id may start with "-".
        "license",
        "revoke",
        "--reason",
        "partner client test",
        "--yes",
        "--",
        fresh_demo["key_id"],
    )
    check = client.check(fresh_demo["license_key"], target_version="2.1.0")
    assert (check.valid, check.code, check.license.status) == (False, "REVOKED", "revoked")
    assert check.upgrade is not None
    assert (check.upgrade.eligible, check.upgrade.reason) == (False, "LICENSE_INVALID")


def test_an_invalid_target_version(client: PartnerClient, demo: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        client.check(demo["license_key"], target_version="not a version")
    assert (caught.value.status, caught.value.code) == (422, "INVALID_REQUEST")
    assert "target_version" in caught.value.errors


def test_a_revoked_api_key_is_unauthenticated(server: LiveServer, demo: dict[str, Any]) -> None:
    record = server.partner_key(PARTNER, "--label", "to be revoked")
    token = record["api_key"]
    with PartnerClient(server.url, token) as partner:
        assert partner.check(demo["license_key"]).valid
        server.revoke_partner_key(record["key_id"])
        with pytest.raises(UnauthenticatedError) as caught:
            partner.check(demo["license_key"])
        assert repr(partner) == f"PartnerClient({server.url!r}, key_id={record['key_id']!r})"
    error = caught.value
    assert (error.status, error.code) == (401, "UNAUTHENTICATED")
    assert error.request_id
    assert token not in str(error) + repr(error) + repr(error.problem)


def test_a_key_without_the_scope_is_forbidden(server: LiveServer, demo: dict[str, Any]) -> None:
    token = server.partner_key(PARTNER, "--scope", "releases:read")["api_key"]
    with PartnerClient(server.url, token) as partner:
        with pytest.raises(ForbiddenError) as caught:
            partner.check(demo["license_key"])
        assert (caught.value.status, caught.value.code) == (403, "FORBIDDEN")
        assert len(partner.releases(PRODUCT)) == 3


def test_releases(client: PartnerClient, demo: dict[str, Any]) -> None:
    releases = client.releases(PRODUCT)
    assert [r.version for r in releases] == ["1.0.0", "2.0.0", "2.1.0"]
    times = [r.released_at for r in releases]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t <= datetime.now(UTC) for t in times)
    protection = parse_time(demo["upgrade_protection_until"])
    assert protection is not None
    assert times[-1] <= protection  # so 2.1.0 is covered, as the check says
    with pytest.raises(NotFoundError) as caught:
        client.releases("no-such-product")
    assert not isinstance(caught.value, LicenseNotFoundError)
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")


def test_rate_limited(server: LiveServer, demo: dict[str, Any]) -> None:
    server.add_partner("Throttled", "--rate-limit", "1/minute")
    token = server.partner_key("Throttled")["api_key"]
    sleeps: list[float] = []
    # Without Redis each server worker counts on its own (2 workers): the third
    # request at the latest finds a worker that has counted one already.
    partner = PartnerClient(server.url, token, retries=0, sleep=sleeps.append)
    with partner, pytest.raises(RateLimitedError) as caught:
        for _ in range(3):
            partner.check(demo["license_key"])
    error = caught.value
    assert (error.status, error.code) == (429, "RATE_LIMITED")
    assert error.retry_after is not None
    assert 1 <= error.retry_after <= 60
    assert error.request_id
    assert sleeps == []


def test_each_answer_about_a_license_is_disclosed(
    server: LiveServer, client: PartnerClient, fresh_demo: dict[str, Any]
) -> None:
    check = client.check(fresh_demo["license_key"], target_version="2.1.0")
    with pytest.raises(LicenseNotFoundError):
        client.check(_unknown_key())
    logged = json.loads(
        server.cli("partner", "disclosures", "--license", fresh_demo["key_id"], "--json")
    )
    assert [(d["request_id"], d["purpose"]) for d in logged] == [
        (check.request_id, "license_check")
    ]
    assert "upgrade.eligible" in logged[0]["fields"]


def test_cli(server: LiveServer, api_key: str, demo: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env["LICENSING_PARTNER_API_KEY"] = api_key

    def run(*args: str, key_option: str | None = None) -> subprocess.CompletedProcess[str]:
        options = ["--server", server.url]
        if key_option is not None:
            options += ["--api-key", key_option]
        done = subprocess.run(  # noqa: S603 - the installed client CLI
            [*client_command(), "partner", args[0], *options, *args[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert api_key not in done.stdout + done.stderr
        return done

    key = demo["license_key"]
    eligible = run("check", key, "--target-version", "2.1.0")
    assert eligible.returncode == 0, eligible.stderr
    assert eligible.stdout.splitlines()[0] == f"valid: {PRODUCT} {demo['edition']}, active"
    assert "upgrade to 2.1.0: eligible (COVERED)" in eligible.stdout

    unknown_release = run("check", key, "--target-version", "9.9.9", "--json")
    assert unknown_release.returncode == 3, unknown_release.stderr
    answer = json.loads(unknown_release.stdout)
    assert answer["license"]["valid"] is True
    assert answer["upgrade"]["reason"] == "UNKNOWN_RELEASE"

    not_found = run("check", _unknown_key())
    assert not_found.returncode == 1
    (line,) = not_found.stderr.strip().splitlines()
    assert "LICENSE_NOT_FOUND" in line
    assert "status 404" in line
    assert not_found.stdout == ""

    malformed = run("check", "ABCDE-FGHJK")
    assert malformed.returncode == 2
    assert "MALFORMED_KEY" in malformed.stderr

    releases = run("releases", PRODUCT, "--json", key_option=api_key)
    assert releases.returncode == 0, releases.stderr
    assert [r["version"] for r in json.loads(releases.stdout)["releases"]] == [
        "1.0.0",
        "2.0.0",
        "2.1.0",
    ]

    record = server.partner_key(PARTNER, "--label", "cli, revoked")
    server.revoke_partner_key(record["key_id"])
    revoked = run("check", key, key_option=record["api_key"])
    assert revoked.returncode == 1
    (line,) = revoked.stderr.strip().splitlines()
    assert "UNAUTHENTICATED" in line
    assert "status 401" in line
    assert record["api_key"] not in revoked.stderr
