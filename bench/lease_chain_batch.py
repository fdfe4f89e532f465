"""PostgreSQL's cost of the lease chain in the check-in batch statement, A/B in one run.

Not a test: it prints figures. The group commit writes every check-in on PostgreSQL with
one statement (``check_in_batch_sql.CHECK_IN_BATCH_POSTGRESQL``); the lease chain adds to it the
newest lease per activation and an insert of superseded leases. This runs, against one
fresh database, the statement as it was before the chain (``--before``: a file holding
the old statement's text, e.g. from ``git show <commit>:licensing/storage/statements.py``)
and the current one, alternating round by round, with batches of check-ins that present
no lease (old clients), the newest lease (the normal case) or a superseded one (a clone:
one row per check-in), and prints the median time per statement and per check-in. The
time is the client's wall time for one round trip (PostgreSQL's planning and execution
plus the socket), on the same connection in autocommit mode as the group commit's.

    .venv/bin/python bench/lease_chain_batch.py --before /tmp/statements_before.py
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from licensing import create_app
from licensing.cli import cli
from licensing.crypto.lease_ids import new_lease_id
from licensing.extensions import db
from licensing.models import Activation
from licensing.runtime import current
from licensing.services.check_ins import check_in_row
from licensing.services.instance_reports import CheckIn
from licensing.storage.check_in_batches import BATCH_STATEMENT, _batch_member
from licensing.storage.replay import NonceClaim

ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the old statements.py")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--statements", type=int, default=300, help="per mode and round")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes")
    return parser.parse_args(argv)


def old_statement(path: Path) -> bytes:
    """The batch statement of an older statements.py, sent as the writer sends it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "CHECK_IN_BATCH_POSTGRESQL" for t in node.targets
        ):
            text = ast.literal_eval(node.value)
            return "\n".join(s.strip() for s in text.splitlines() if s.strip()).encode()
    raise SystemExit(f"{path} has no CHECK_IN_BATCH_POSTGRESQL")


class Fleet:
    """The bench's activations, the lease each one holds, and check-in rows for them."""

    def __init__(self, sealer: Any, license_id: uuid.UUID, activations: list[uuid.UUID]) -> None:
        self.sealer, self.license_id, self.activations = sealer, license_id, activations
        self.newest: dict[uuid.UUID, str | None] = dict.fromkeys(activations)
        self.next = 0

    def batch(self, size: int, mode: str) -> str:
        members = []
        now = datetime.now(UTC)
        for n in range(size):
            activation = self.activations[(self.next + n) % len(self.activations)]
            bound = {"license_id": self.license_id, "activation_id": activation}
            issued = new_lease_id(self.sealer, **bound, fingerprint=None)
            # A superseded lease: one issued to this activation (it verifies), not the newest.
            stale = new_lease_id(self.sealer, **bound, fingerprint=None)
            presented = {"none": None, "chained": self.newest[activation], "stale": stale}[mode]
            report = CheckIn(
                activation, None, "mail.example.com", "2.1.0", {"m": 1}, "192.0.2.9", presented
            )
            nonce = NonceClaim("bench-key", secrets.token_urlsafe(16), now + timedelta(minutes=10))
            row = check_in_row(
                self.sealer,
                license_id=self.license_id,
                processing_restricted=False,
                report=report,
                now=now,
                nonce=nonce,
                issued_jti=issued,
            )
            members.append(_batch_member(row))
            self.newest[activation] = issued
        self.next += size
        return json.dumps(members, separators=(",", ":"))


def run(cursor: Any, statement: bytes, rows: str) -> float:
    started = time.perf_counter()
    cursor.execute(statement, {"rows": rows})
    cursor.fetchall()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    before = old_statement(args.before)
    database = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    os.environ.update(
        LICENSING_DATABASE_URL=url,
        LICENSING_INSTANCE_PATH=tempfile.mkdtemp(prefix="licensing-lease-chain-"),
        LICENSING_LOG_LEVEL="WARNING",
    )
    try:
        app = create_app()
        runner = app.test_cli_runner()
        for command in (["db", "upgrade"], ["demo", "--json"]):
            result = runner.invoke(cli, args=command)
            if result.exit_code != 0:
                raise SystemExit(f"licensing {' '.join(command)}: {result.output}")
        with app.app_context():
            license_id = uuid.UUID(json.loads(result.output)["id"])
            session = db.session()
            ids = [uuid.uuid4() for _ in range(16)]
            for n, activation_id in enumerate(ids):
                session.add(
                    Activation(
                        id=activation_id,
                        license_id=license_id,
                        fingerprint=f"bench-fingerprint-{n:04d}",
                        server_name="mail.example.com",
                        product_version="2.1.0",
                        activated_at=datetime.now(UTC),
                        last_check_in_at=datetime.now(UTC),
                    )
                )
            session.commit()
            fleet = Fleet(current().sealer, license_id, ids)
            modes = [("before", "none", before)] + [
                ("after", mode, BATCH_STATEMENT) for mode in ("none", "chained", "stale")
            ]
            timings: dict[tuple[str, str, int], list[float]] = {}
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
                cursor = connection.cursor()
                for size in args.batch:  # warm-up: plans, caches
                    for _tree, mode, statement in modes:
                        for _ in range(50):
                            run(cursor, statement, fleet.batch(size, mode))
                for _ in range(args.rounds):
                    for size in args.batch:
                        for tree, mode, statement in modes:
                            spent = timings.setdefault((tree, mode, size), [])
                            for _ in range(args.statements):
                                spent.append(run(cursor, statement, fleet.batch(size, mode)))
                presented = cursor.execute("SELECT count(*) FROM lease_presentations").fetchone()
        print(f"{'statement':10s} {'lease_jti':9s} {'batch':>5s} {'median ms':>10s} per check-in")
        order = sorted(timings.items(), key=lambda t: (t[0][2], t[0][0] != "before"))
        for (tree, mode, size), spent in order:
            median = statistics.median(spent) * 1e3
            print(f"{tree:10s} {mode:9s} {size:5d} {median:10.3f} {median / size:13.3f}")
        print(f"lease_presentations rows written: {presented[0] if presented else 0}")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
