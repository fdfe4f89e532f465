"""The lease chain against the real server: a copied state directory shows, a restore does not.

Two machines started from one image share an activation; only one of them can hold the
newest lease, so the other presents superseded ones, which the server keeps as evidence
(``lease_presentations``, read here straight from the server's SQLite file) and which
``licensing misuse scan`` turns into a ``CLONED_INSTANCE`` case naming the superseded
lease. A single restore of an older state presents one old lease once and opens no case.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from licensing_client import InstanceClient
from licensing_client.lease import lease_id_of
from livesrv import LiveServer, require_server_command

pytestmark = pytest.mark.live
PRODUCT = "demo-mailserver"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(require_server_command(), tmp_path_factory.mktemp("server"))
    live.instance.mkdir(parents=True, exist_ok=True)
    live.demo_license()
    live.start()
    try:
        yield live
    finally:
        live.stop()


def client(server: LiveServer, key: str, state_dir: Path) -> InstanceClient:
    return InstanceClient(
        server.url,
        key,
        PRODUCT,
        state_dir,
        server.jwks(),
        product_version="2.1.0",
        server_name="mail01.example.com",
        backoff=0.05,
    )


def presented(server: LiveServer, activation_id: str) -> list[tuple[str, str]]:
    """(presented, newest) of every superseded lease the activation's check-ins named."""
    database = server.instance / "licensing.sqlite3"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT presented_jti, newest_jti FROM lease_presentations"
            " WHERE replace(activation_id, '-', '') = ? ORDER BY id",
            (activation_id.replace("-", ""),),
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def cases_after_a_scan(server: LiveServer, license_id: str) -> list[dict[str, Any]]:
    """Run the scan as an operator would, then the license's cases, each shown whole."""
    json.loads(server.cli("misuse", "scan", "--json"))
    listed = json.loads(server.cli("misuse", "cases", "--license", license_id, "--json"))
    return [json.loads(server.cli("misuse", "case", "show", c["id"], "--json")) for c in listed]


def held(state_dir: Path) -> str | None:
    lease = state_dir / "lease.jwt"
    return lease_id_of(lease.read_text().strip()) if lease.exists() else None


def test_two_machines_sharing_a_copied_state_directory_present_superseded_leases(
    server: LiveServer, tmp_path: Path
) -> None:
    license = server.demo_license()
    key = license["license_key"]
    original, copy = tmp_path / "original", tmp_path / "copy"
    with client(server, key, original) as first:
        activation_id = first.activate().activation_id
    shutil.copytree(original, copy)  # the cloned image
    leases: list[str | None] = [held(original)]

    for state_dir in (original, copy, original, copy, original):
        before = held(state_dir)
        with client(server, key, state_dir) as machine:
            assert machine.check_in().valid
        leases.append(held(state_dir))
        assert leases[-1] != before

    # The first check-in held the newest lease; every later one held a superseded one.
    assert presented(server, activation_id) == [
        (leases[0], leases[1]),  # the copy still held the activation's lease
        (leases[1], leases[2]),
        (leases[2], leases[3]),
        (leases[3], leases[4]),
    ]
    cases = cases_after_a_scan(server, license["id"])
    assert [c["rule"] for c in cases] == ["CLONED_INSTANCE"]
    assert cases[0]["severity"] == "high"
    (cloned,) = cases[0]["evidence"]["activations"]
    assert cloned["activation_id"] == activation_id
    superseded = [(s["presented"], s["newest"]) for s in cloned["superseded_leases"]]
    # Each superseded lease whose two branches both went on, the lease newest then and the
    # one issued in answer both presented later: the machines alternate. The last two
    # answers have not been presented yet.
    assert superseded == [(leases[0], leases[1]), (leases[1], leases[2])]


def test_one_restore_from_an_older_backup_presents_one_old_lease_once(
    server: LiveServer, tmp_path: Path
) -> None:
    license = server.demo_license()
    key = license["license_key"]
    state, backup = tmp_path / "state", tmp_path / "backup"
    with client(server, key, state) as machine:
        activation_id = machine.activate().activation_id
    shutil.copytree(state, backup)
    old = held(state)
    with client(server, key, state) as machine:
        machine.check_in()
        machine.check_in()
    newest = held(state)
    shutil.rmtree(state)
    shutil.copytree(backup, state)  # the restore

    with client(server, key, state) as machine:
        machine.check_in()
        machine.check_in()
        machine.check_in()

    assert presented(server, activation_id) == [(old, newest)]
    assert cases_after_a_scan(server, license["id"]) == []
