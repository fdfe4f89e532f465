"""Against the real server, started in a subprocess (``licensing demo`` + ``licensing serve``).

Without a server command these tests fail when ``CI`` is set and skip otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakeserver import ServerKey
from licensing_client import (
    InstanceClient,
    InvalidRequestError,
    LicenseRefusedError,
    NotActivatedError,
    ServerUnreachableError,
    SignatureRejectedError,
    UnverifiedResponseError,
)
from licensing_client.keys import ALPHABET, check_symbol
from livesrv import LiveServer, client_command, require_server_command

pytestmark = pytest.mark.live
PRODUCT = "demo-mailserver"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(require_server_command(), tmp_path_factory.mktemp("server"))
    live.instance.mkdir(parents=True, exist_ok=True)
    live.demo_license()  # seeds the product, releases 1.0.0/2.0.0/2.1.0 and the server key
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def license_key(server: LiveServer) -> str:
    key: str = server.demo_license()["license_key"]
    return key


def _client(
    server: LiveServer,
    key: str,
    state_dir: Path,
    jwks: dict[str, Any] | None = None,
    **options: Any,
) -> InstanceClient:
    settings: dict[str, Any] = {
        "product_version": "2.1.0",
        "server_name": "mail01.example.com",
        "backoff": 0.05,
    }
    settings.update(options)
    return InstanceClient(server.url, key, PRODUCT, state_dir, jwks or server.jwks(), **settings)


def test_activate_check_in_deactivate(server: LiveServer, license_key: str, tmp_path: Path) -> None:
    with _client(server, license_key, tmp_path / "state") as client:
        before = time.time()
        activation = client.activate(usage={"mailboxes": 5}, platform="linux-x86_64")
        assert activation.created
        assert activation.code == "VALID"
        assert activation.license.product == PRODUCT
        assert activation.license.status == "active"
        assert (activation.license.activations_used, activation.license.activations_allowed) == (
            1,
            1,
        )
        lease = activation.lease
        assert lease.activation_id == activation.activation_id
        assert lease.fingerprint == client.fingerprint
        assert lease.product == PRODUCT
        assert lease.entitlements == activation.license.entitlements
        assert abs(lease.expires_at.timestamp() - (before + 7 * 86400)) < 120
        assert activation.next_check_in_at > datetime.now(UTC) + timedelta(hours=23)
        assert activation.request_id

        again = client.activate()
        assert not again.created
        assert again.activation_id == activation.activation_id
        assert again.license.activations_used == 1

        check_in = client.check_in({"mailboxes": 7})
        assert (check_in.valid, check_in.code) == (True, "VALID")
        assert check_in.lease is not None
        assert check_in.lease.activation_id == activation.activation_id

        status = client.status()
        assert (status.valid, status.code) == (True, "VALID")

        released = client.deactivate()
        assert released.code == "DEACTIVATED"
        assert released.activation_id == activation.activation_id
        assert client.status().code == "NOT_ACTIVATED"
        with pytest.raises(NotActivatedError) as caught:
            client.check_in()
        assert (caught.value.status, caught.value.code) == (404, "NOT_ACTIVATED")
        assert caught.value.request_id


def test_any_key_formatting_works(server: LiveServer, license_key: str, tmp_path: Path) -> None:
    typed = license_key.lower().replace("-", " ").replace("1", "l").replace("0", "o")
    with _client(server, typed, tmp_path / "state") as client:
        assert client.activate().created


def test_verdicts_and_refusals(server: LiveServer, license_key: str, tmp_path: Path) -> None:
    with _client(server, license_key, tmp_path / "a") as first:
        first.activate()
        uncovered = first.check_in(product_version="9.0.0")
        assert (uncovered.valid, uncovered.code, uncovered.lease) == (
            False,
            "VERSION_NOT_COVERED",
            None,
        )
        assert uncovered.license is not None
        assert first.status().valid  # only REVOKED, SUSPENDED, EXPIRED discard the lease
    with _client(server, license_key, tmp_path / "b") as second:
        migrated = second.activate()  # the edition's migration allowance
        assert migrated.created
        assert migrated.license.migration_until is not None
    with _client(server, license_key, tmp_path / "c") as third:
        with pytest.raises(LicenseRefusedError) as caught:
            third.activate()
        assert (caught.value.status, caught.value.code) == (403, "TOO_MANY_ACTIVATIONS")
        assert caught.value.request_id


def test_revocation_discards_the_lease(
    server: LiveServer, license_key: str, tmp_path: Path
) -> None:
    with _client(server, license_key, tmp_path / "state") as client:
        client.activate()
        # After "--": a key id may start with "-".
        server.cli("license", "revoke", "--reason", "client test", "--yes", "--", client.key.key_id)
        verdict = client.check_in()
        assert (verdict.valid, verdict.code) == (False, "REVOKED")
        assert verdict.license is not None
        assert verdict.license.status == "revoked"
        assert client.status().code == "NOT_ACTIVATED"
        with pytest.raises(LicenseRefusedError) as caught:
            client.activate()
        assert caught.value.code == "REVOKED"


def test_invalid_request_and_unknown_key(
    server: LiveServer, license_key: str, tmp_path: Path
) -> None:
    with _client(server, license_key, tmp_path / "a") as client:
        with pytest.raises(InvalidRequestError) as caught:
            client.activate(usage={"Not-A-Counter": 1})
        assert caught.value.status == 422
        assert any(name.startswith("usage") for name in caught.value.errors)
    first_24 = "".join(secrets.choice(ALPHABET) for _ in range(24))
    with _client(server, first_24 + check_symbol(first_24), tmp_path / "b") as stranger:
        with pytest.raises(SignatureRejectedError) as rejected:
            stranger.activate()
        assert (rejected.value.status, rejected.value.code) == (401, "UNKNOWN_KEY")


def test_answers_that_do_not_verify_are_no_answers(
    server: LiveServer, license_key: str, tmp_path: Path
) -> None:
    wrong_keys = {"keys": [ServerKey.generate().jwk]}
    with _client(server, license_key, tmp_path / "a", wrong_keys, retries=1) as client:
        with pytest.raises(UnverifiedResponseError):
            client.activate()
        assert client.status().code == "NOT_ACTIVATED"
    # A client clock 1000 s behind: the server finds the request stale, and the
    # client finds the server's answer stale: no answer either way.
    skewed = _client(
        server, license_key, tmp_path / "b", retries=0, clock=lambda: time.time() - 1000
    )
    with skewed, pytest.raises(UnverifiedResponseError, match="created"):
        skewed.activate()


def test_offline_grace_after_the_server_stops(
    license_key: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A server of its own, since this test stops it.
    own = LiveServer(require_server_command(), tmp_path_factory.mktemp("own-server"))
    own.instance.mkdir(parents=True, exist_ok=True)
    key = own.demo_license()["license_key"]
    own.start()
    try:
        jwks = own.jwks()
        now = [time.time()]
        client = _client(own, key, tmp_path / "state", jwks, retries=1, clock=lambda: now[0])
        activation = client.activate()
        assert client.check_in().valid
    finally:
        own.stop()
    with client:
        assert client.status().valid
        with pytest.raises(ServerUnreachableError) as caught:
            client.check_in()
        assert not isinstance(caught.value, UnverifiedResponseError)
        status = client.status()  # the failed check-in kept the lease
        assert (status.valid, status.code) == (True, "VALID")
        assert status.activation_id == activation.activation_id
        assert status.expires_at is not None
        now[0] = status.expires_at.timestamp() - 1
        assert client.status().valid
        now[0] = status.expires_at.timestamp() + 1
        expired = client.status()
        assert (expired.valid, expired.code) == (False, "LEASE_EXPIRED")


def test_cli_round_trip(server: LiveServer, license_key: str, tmp_path: Path) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(server.jwks()))
    options = [
        "--server",
        server.url,
        "--product",
        PRODUCT,
        "--state-dir",
        str(tmp_path / "state"),
        "--jwks",
        str(jwks_file),
        "--version",
        "2.1.0",
        "--server-name",
        "mail02.example.com",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env["LICENSING_KEY"] = license_key

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the installed client CLI
            [*client_command(), args[0], *options, *args[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    activated = run("activate", "--usage", "mailboxes=3", "--json")
    assert activated.returncode == 0, activated.stderr
    record = json.loads(activated.stdout)
    assert record["created"] is True
    assert record["activation"]["server_name"] == "mail02.example.com"
    assert license_key not in activated.stdout + activated.stderr

    status = run("status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("valid until ")

    checked = run("check-in", "--usage", "mailboxes=4", "--usage", "domains=2")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("valid")

    uncovered = run("check-in", "--version", "9.0.0", "--json")
    assert uncovered.returncode == 3
    assert json.loads(uncovered.stdout)["code"] == "VERSION_NOT_COVERED"

    released = run("deactivate")
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith("deactivated: ")

    after = run("check-in")
    assert after.returncode == 1
    (line,) = after.stderr.strip().splitlines()
    assert "NOT_ACTIVATED" in line
    assert "status 404" in line

    final = run("status", "--json")
    assert final.returncode == 3
    assert json.loads(final.stdout)["code"] == "NOT_ACTIVATED"
