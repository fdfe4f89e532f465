"""The misuse scan shares SQLite with check-ins: writers get in while it (or a backtest)
runs, and two scans at once leave the cases one scan leaves.

Each test runs ``licensing misuse scan`` (or ``backtest``) as a process of its own, as
cron does, on a file database of its own copied from one seeded for the module, and
writes from a second connection of this process as a check-in would: committed rows and
real locks, not the test's rolled-back transaction.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from sqlalchemy import insert

from licensing import create_app
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.models import Activation, License, UsageObservation
from licensing.runtime import EXTENSION_KEY
from licensing.timeutil import utcnow
from tests.databases import TEST_DATABASE_ENV
from tests.factories import make_license
from tests.unit.services.misuse_rows import DAY, HOUR, keyed

LICENSES = 40000
SPREADING_EVERY = 40  # one license in 40 runs six servers on six networks: NETWORK_SPREAD
# A check-in's wait for the write lock, as this test allows it (production waits 30 s).
BUSY_TIMEOUT = 1.0
LICENSING = str(Path(sys.executable).with_name("licensing"))

pytestmark = pytest.mark.skipif(
    bool(os.environ.get(TEST_DATABASE_ENV, "").strip()),
    reason="SQLite's write lock; PostgreSQL's scan is covered by test_misuse_scan_lock.py",
)


def _fleet(session: Any, sealer: Sealer) -> None:
    """Licenses with a week of daily check-ins each, a few of them spreading; one
    issued, the others sharing its sealed key (the scan never opens one). Written in bulk:
    the rows ``misuse_rows.seat`` and ``daily`` write, without an ORM flush per row."""
    now = utcnow()
    issued = make_license(session, sealer).license
    issued.status_changed_at = now - 60 * DAY
    licenses: list[dict[str, Any]] = []
    activations: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for n in range(LICENSES - 1):
        license_id = uuid.uuid4()
        licenses.append(
            {
                "id": license_id,
                "key_id": secrets.token_urlsafe(16)[:22],
                "sealed_key": issued.sealed_key,
                "key_hint": issued.key_hint,
                "product_id": issued.product_id,
                "edition_id": issued.edition_id,
                "customer_id": issued.customer_id,
                "status_changed_at": now - 60 * DAY,
            }
        )
        spreading = n % SPREADING_EVERY == SPREADING_EVERY - 1
        for server in range(6 if spreading else 1):
            activation_id = uuid.uuid4()
            activations.append(
                {
                    "id": activation_id,
                    "license_id": license_id,
                    "fingerprint": activation_id.hex,
                    "server_name": "app-1.example.com",
                    "product_version": "2.0.0",
                    "activated_at": now - 20 * DAY,
                    "last_check_in_at": now - HOUR,
                }
            )
            ip = f"203.0.{server}.7"
            for back in range(3 if spreading else 6, -1, -1):
                day = (now - back * DAY).date()
                midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
                observations.append(
                    {
                        "activation_id": activation_id,
                        "license_id": license_id,
                        "day": day,
                        "observation_key": keyed("observation", f"{ip}|app-1|2.0.0"),
                        "ip": ip,
                        "ip_hash": keyed("ip", ip),
                        "ip_prefix": f"203.0.{server}.0/24",
                        "server_name": "app-1.example.com",
                        "server_name_hash": keyed("server-name", "app-1.example.com"),
                        "product_version": "2.0.0",
                        "count": 24,
                        "first_seen": midnight,
                        "last_seen": midnight + 23 * HOUR,
                    }
                )
    for model, rows in ((License, licenses), (Activation, activations)):
        session.execute(insert(model), rows)
    session.execute(insert(UsageObservation), observations)
    session.commit()


@pytest.fixture(scope="module")
def seeded(app_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the fleet, checkpointed so a copy holds it all."""
    path = tmp_path_factory.mktemp("scan-fleet") / "fleet.sqlite3"
    app = create_app({**app_config, "LICENSING_DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        flask_migrate.upgrade()
        _fleet(db.session, app.extensions[EXTENSION_KEY].sealer)
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def database(seeded: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "licensing.sqlite3"
    shutil.copyfile(seeded, copy)
    yield copy


FULL_SCAN = ("misuse", "scan", "--full", "--json")
BACKTEST = (
    "misuse",
    "backtest",
    "NETWORK_SPREAD",
    "--threshold",
    "network_spread_networks=4",
    "--json",
)


def _scan(
    database: Path, app_config: dict[str, Any], command: tuple[str, ...] = FULL_SCAN
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LICENSING_DATABASE_URL": f"sqlite:///{database}",
        "LICENSING_MASTER_KEY": app_config["LICENSING_MASTER_KEY"],
        "LICENSING_SECRET_KEY": app_config["LICENSING_SECRET_KEY"],
        "LICENSING_INSTANCE_PATH": app_config["LICENSING_INSTANCE_PATH"],
    }
    return subprocess.Popen(
        [LICENSING, *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _write(database: Path) -> float:
    """One short write transaction on a connection of its own, as a check-in makes; the
    seconds it waited for the write lock (``sqlite3.OperationalError`` past the timeout)."""
    connection = sqlite3.connect(database, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        started = time.monotonic()
        connection.execute("BEGIN IMMEDIATE")
        waited = time.monotonic() - started
        connection.execute(
            "UPDATE licenses SET status_reason = 'checked in' WHERE id = "
            "(SELECT id FROM licenses ORDER BY id LIMIT 1)"
        )
        connection.execute("COMMIT")
        return waited
    finally:
        connection.close()


def _cases(database: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return sorted(connection.execute("SELECT license_id, rule, status FROM misuse_cases"))


@pytest.mark.parametrize(
    ("command", "counted"),
    [(FULL_SCAN, "licenses_scanned"), (BACKTEST, "licenses_evaluated")],
    ids=["full scan", "backtest"],
)
def test_check_ins_keep_writing_while_a_scan_or_a_backtest_runs(
    database: Path, app_config: dict[str, Any], command: tuple[str, ...], counted: str
) -> None:
    started = time.monotonic()
    scan = _scan(database, app_config, command)
    waits: list[float] = []
    locked: list[str] = []
    while scan.poll() is None:
        try:
            waits.append(_write(database))
        except sqlite3.OperationalError as exc:
            locked.append(str(exc))
        time.sleep(0.05)
    seconds = time.monotonic() - started
    out, err = scan.communicate()

    assert scan.returncode == 0, err
    assert f'"{counted}": {LICENSES}' in out
    # Long enough that a lock held throughout would make writers give up, many times over.
    assert seconds >= 2 * BUSY_TIMEOUT, f"it took {seconds:.1f} s: too short a test"
    assert len(waits) + len(locked) >= 10
    print(f"{command[1]} {seconds:.1f} s; {len(waits)} writes, longest wait {max(waits):.2f} s")
    assert not locked, f"{len(locked)} writes gave up after {BUSY_TIMEOUT} s: {locked[0]}"
    assert max(waits) < BUSY_TIMEOUT / 2


def test_two_scans_at_once_leave_the_cases_of_one(
    database: Path, seeded: Path, tmp_path: Path, app_config: dict[str, Any]
) -> None:
    alone = tmp_path / "alone.sqlite3"
    shutil.copyfile(seeded, alone)
    single = _scan(alone, app_config)
    _, err = single.communicate(timeout=300)
    assert single.returncode == 0, err
    expected = _cases(alone)

    scans = [_scan(database, app_config) for _ in range(2)]
    outcomes = [scan.communicate(timeout=300) for scan in scans]

    for scan, (out, err) in zip(scans, outcomes, strict=True):
        assert scan.returncode == 0, err
        assert f'"licenses_scanned": {LICENSES}' in out  # neither skipped: no lock to wait on
    assert len(expected) == (LICENSES - 1) // SPREADING_EVERY  # the issued one is quiet
    assert _cases(database) == expected
