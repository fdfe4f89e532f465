"""Check-ins update their rows in place on PostgreSQL (heap-only tuple, HOT, updates).

An UPDATE that changes an indexed column writes a new entry into every index of the
table; a check-in writes ``activations`` and ``usage_observations`` on every call, so no
index may cover what it writes. Runs a live server (group commit) on a fresh database.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.databases import fresh_postgresql_database
from tests.live import LiveServer, call, live_server
from tests.signing import Credentials

TEST_DATABASE_ENV = "LICENSING_TEST_DATABASE_URL"
ACTIVATIONS = "/v1/instance/activations"
CHECK_INS = "/v1/instance/check-ins"
# PostgreSQL's PGSTAT_IDLE_INTERVAL (10 s) and a margin: an idle backend reports by then.
IDLE_REPORT_SECONDS = 11.5
# The columns a check-in writes, per table.
CHECK_IN_WRITES = {
    "activations": {"last_check_in_at", "server_name", "product_version"},
    "usage_observations": {"count", "last_seen", "usage"},
}

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: HOT updates are a PostgreSQL matter",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with fresh_postgresql_database(os.environ[TEST_DATABASE_ENV].strip(), label="hot_") as url:
        folder = tmp_path_factory.mktemp("hot")
        with live_server(Path(folder), database_url=url, workers=2, threads=8) as running:
            yield running


def update_counts(engine: sa.Engine, table: str) -> tuple[int, int]:
    """(n_tup_upd, n_tup_hot_upd) of ``table``, once every backend has reported its counters.

    A backend reports when a transaction ends, at most once a second; one left idle with
    counters pending reports them after PGSTAT_IDLE_INTERVAL (10 s). So the figures are
    read until they have stood still for longer than that.
    """
    query = sa.text(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = :table"
    )
    last: tuple[int, int] | None = None
    still_since = time.monotonic()
    deadline = still_since + 60
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            row = connection.execute(query, {"table": table}).one()
        figures = (int(row[0]), int(row[1]))
        if figures != last:
            last, still_since = figures, time.monotonic()
        elif time.monotonic() - still_since > IDLE_REPORT_SECONDS:
            return figures
        time.sleep(1.0)
    assert last is not None
    return last


def test_check_ins_are_heap_only_updates(server: LiveServer) -> None:
    license = server.licenses[0]  # 1 seat + a migration allowance of 1
    credentials = Credentials.from_license_key(license["license_key"])
    jwks = server.jwks()
    reports: list[dict[str, Any]] = []
    for _ in range(2):
        fingerprint = f"fp-hot-{secrets.token_hex(8)}"
        report = {
            "fingerprint": fingerprint,
            "server_name": f"{fingerprint}.example.com",
            "product_version": "2.1.0",
        }
        activated = call(
            server,
            credentials,
            "POST",
            ACTIVATIONS,
            report | {"product": license["product"]},
            jwks=jwks,
        )
        assert activated.status == 201, activated.body
        reports.append(report)
    engine = sa.create_engine(server.database_url)
    try:
        before = update_counts(engine, "activations")

        def check_in(index: int) -> int:
            body = reports[index % len(reports)] | {"usage": {"n": index}}
            return call(server, credentials, "POST", CHECK_INS, body, jwks=jwks).status

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(check_in, range(300)))
        assert statuses == [200] * 300

        after = update_counts(engine, "activations")
        updates, hot = after[0] - before[0], after[1] - before[1]
    finally:
        engine.dispose()
    assert updates >= 100  # check-ins share commits, but every batch updates the rows
    assert hot >= 0.9 * updates, f"{hot} of {updates} activation updates were HOT"


def test_no_index_covers_a_column_a_check_in_writes(server: LiveServer) -> None:
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT t.relname, i.relname, a.attname FROM pg_index x"
                    " JOIN pg_class t ON t.oid = x.indrelid"
                    " JOIN pg_class i ON i.oid = x.indexrelid"
                    " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0"
                    "  AND (a.attnum = ANY(x.indkey)"
                    "   OR pg_get_expr(x.indexprs, x.indrelid) LIKE '%' || a.attname || '%'"
                    "   OR pg_get_expr(x.indpred, x.indrelid) LIKE '%' || a.attname || '%')"
                    " WHERE t.relname IN ('activations', 'usage_observations')"
                )
            ).all()
    finally:
        engine.dispose()
    covering = sorted(
        (table, index, column) for table, index, column in rows if column in CHECK_IN_WRITES[table]
    )
    assert covering == [], "these indexes stop check-ins from being HOT updates"
