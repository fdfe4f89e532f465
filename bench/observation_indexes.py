"""What migration 0010's three search indexes cost a check-in on PostgreSQL, A/B in one run.

Not a test: it prints figures. Migration 0010 indexes ``usage_observations`` on
``ip_hash``, ``server_name_hash`` and ``ip_prefix`` so that staff search is indexed. Those
columns are written only when a check-in inserts an observation row (a new activation,
day, address, server name and version); the day's repeated check-ins upsert the same row
(count, last_seen, usage: unindexed, so the update stays HOT). This runs the real batch
statement (``check_in_batch_sql.CHECK_IN_BATCH_POSTGRESQL``, as the group commit sends it:
autocommit, one connection) against one fresh database migrated to head, whose table
first gets ``--rows`` observations of other instances so that the indexes have depth, in
two modes: ``insert`` (a new address on every check-in: a new row each) and ``upsert``
(each instance's same row again: the HOT path), in batches of 1 and 8. Rounds alternate
between the table WITH the three indexes and WITHOUT them (dropped, then created again),
in the order with, without, without, with, ... so that a drift of the shared machine's
load weighs on both alike. Each round is timed twice, with this session's
synchronous_commit on (what a check-in waits for: the WAL flush, milliseconds on a shared
disk) and off (the statement's own work); then ``--explained`` statements per arm run
under EXPLAIN (ANALYZE, BUFFERS, WAL), which counts what the observation upsert wrote and
touched, figures that the machine's load does not change. It prints the median wall time
of one round trip per statement and per check-in for each (commit, mode, batch, indexes),
the difference (overall and per pair of adjacent rounds), the counted work, the indexes'
sizes at the end and, read-only, their sizes on the ``--fleet`` database.

    .venv/bin/python bench/observation_indexes.py --database h_indexbench
"""

from __future__ import annotations

import argparse
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
FLEET = "postgresql+psycopg://postgres@127.0.0.1:5432/fleet"

# Migration 0010's indexes, as it creates them.
SEARCH_INDEXES = {
    "ix_usage_observations_ip_hash": "ip_hash",
    "ix_usage_observations_server_name_hash": "server_name_hash",
    "ix_usage_observations_ip_prefix": "ip_prefix",
}
MODES = ("insert", "upsert")
INSTANCES = 16  # the bench's own activations, on the demo license


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", default=None, help="name of the database to create (and drop at the end)"
    )
    parser.add_argument("--rows", type=int, default=300_000, help="observations to start with")
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds (even)")
    parser.add_argument("--statements", type=int, default=300, help="per mode, batch and round")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes")
    parser.add_argument(
        "--synchronous-commit",
        nargs="+",
        choices=("on", "off"),
        default=["on", "off"],
        help="this session's setting: on waits for the WAL flush, off shows the statement's work",
    )
    parser.add_argument(
        "--explained", type=int, default=20, help="EXPLAIN ANALYZE per mode, batch and round"
    )
    parser.add_argument("--fleet", default=FLEET, help="database whose index sizes to read")
    args = parser.parse_args(argv)
    if args.rounds < 2 or args.rounds % 2:
        parser.error("--rounds must be even: half the rounds run with the indexes")
    return args


class Fleet:
    """The bench's instances and check-in rows for them: a new address or the same one."""

    def __init__(self, sealer: Any, license_id: uuid.UUID, activations: list[uuid.UUID]) -> None:
        self.sealer, self.license_id, self.activations = sealer, license_id, activations
        self.newest: dict[uuid.UUID, str | None] = dict.fromkeys(activations)
        self.next = 0
        self.addresses = 0

    def address(self, mode: str, activation: int) -> str:
        if mode == "upsert":  # each instance's one address: the day's row, again
            return f"192.0.2.{activation}"
        self.addresses += 1  # never seen before: a new observation row
        n = self.addresses
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    def batch(self, size: int, mode: str) -> str:
        members = []
        now = datetime.now(UTC)
        for n in range(size):
            index = (self.next + n) % len(self.activations)
            activation = self.activations[index]
            bound = {"license_id": self.license_id, "activation_id": activation}
            issued = new_lease_id(self.sealer, **bound, fingerprint=None)
            report = CheckIn(
                activation,
                None,
                f"mail-{index}.example.com",
                "2.1.0",
                {"m": 1},
                self.address(mode, index),
                self.newest[activation],  # the newest lease: what licensing-client sends
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


def fill(cursor: Any, license_id: uuid.UUID, rows: int) -> None:
    """Other instances' observations over the 30 days before today, as a fleet has them.

    The shape of ``bench/fleet.py``'s fleet: 20 observations per activation (one address
    most days, sometimes another), 1.5 activations per license; the hashes are digests of
    the raw values, so they spread over the index like keyed hashes do.
    """
    activations = max(1, rows // 20)
    licenses = max(1, activations * 2 // 3)
    columns = (
        "key_id, sealed_key, key_hint, product_id, edition_id, customer_id, "
        "selling_partner_id, status, status_reason, status_changed_at, issued_at, "
        "expires_at, upgrade_protection_until, max_activations_override, "
        "processing_restricted, created_at"
    )
    copied = columns.replace("key_id, ", "", 1)
    cursor.execute("CREATE TEMPORARY TABLE filler_licenses (n int PRIMARY KEY, id uuid)")
    cursor.execute(
        "INSERT INTO filler_licenses SELECT n, gen_random_uuid() FROM generate_series(0, %s) n",
        (licenses - 1,),
    )
    cursor.execute(
        f"INSERT INTO licenses (id, {columns}) "
        f"SELECT f.id, 'bench' || lpad(f.n::text, 16, '0'), {copied} "
        "FROM licenses, filler_licenses f WHERE licenses.id = %s",
        (license_id,),
    )
    cursor.execute("CREATE TEMPORARY TABLE filler_activations (n int PRIMARY KEY, id uuid)")
    cursor.execute(
        "INSERT INTO filler_activations SELECT n, gen_random_uuid() FROM generate_series(0, %s) n",
        (activations - 1,),
    )
    cursor.execute(
        "INSERT INTO activations (id, license_id, fingerprint, server_name, product_version, "
        "status, activated_at, last_check_in_at) "
        "SELECT a.id, l.id, 'filler-' || a.n, 'host-' || a.n || '.example.net', '3.1.0', "
        "'active', now() - interval '40 days', now() - interval '1 day' "
        "FROM filler_activations a JOIN filler_licenses l ON l.n = a.n %% %s",
        (licenses,),
    )
    cursor.execute(
        """
        INSERT INTO usage_observations (
            activation_id, license_id, day, observation_key, ip, ip_hash, ip_prefix,
            server_name, server_name_hash, product_version, count, first_seen, last_seen,
            usage
        )
        SELECT o.activation_id, o.license_id, o.day,
               sha256(convert_to(o.activation_id::text || o.day || o.ip, 'UTF8')),
               o.ip, sha256(convert_to('ip:' || o.ip, 'UTF8')),
               network(set_masklen(o.ip::inet, 24))::text,
               o.server_name, sha256(convert_to('server:' || o.server_name, 'UTF8')),
               '3.1.0', 48, o.day + time '00:10', o.day + time '23:50', '{"m": 1}'
        FROM (
            SELECT a.id AS activation_id, l.id AS license_id,
                   current_date - 1 - (k.k + a.n) %% 30 AS day,
                   '198.' || (a.n >> 8) %% 256 || '.' || a.n %% 256 || '.'
                       || CASE WHEN k.k %% 5 = 4 THEN 10 + k.k ELSE 1 END AS ip,
                   'host-' || a.n || '.example.net' AS server_name
            FROM filler_activations a
            JOIN filler_licenses l ON l.n = a.n %% %s
            CROSS JOIN generate_series(0, 19) AS k(k)
            ORDER BY day, a.n
            LIMIT %s
        ) AS o
        """,
        (licenses, rows),
    )
    cursor.execute("VACUUM ANALYZE usage_observations")
    cursor.execute("VACUUM ANALYZE activations")
    cursor.execute("VACUUM ANALYZE licenses")


def set_indexes(cursor: Any, present: bool) -> None:
    """Create or drop migration 0010's indexes (plain DDL: nothing else writes here)."""
    for name, column in SEARCH_INDEXES.items():
        if present:
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON usage_observations ({column})")
        else:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def run(cursor: Any, rows: str) -> float:
    started = time.perf_counter()
    cursor.execute(BATCH_STATEMENT, {"rows": rows})
    cursor.fetchall()
    return time.perf_counter() - started


def observed_work(cursor: Any, rows: str) -> dict[str, int]:
    """What the observation upsert (the statement's ``observed`` CTE) wrote and touched.

    Counted by PostgreSQL (EXPLAIN ANALYZE, BUFFERS, WAL), not timed: the same on a quiet
    machine and a loaded one. The three indexes are written by this node alone.
    """
    cursor.execute(
        b"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + BATCH_STATEMENT, {"rows": rows}
    )
    plan = cursor.fetchone()[0][0]["Plan"]
    node = next(n for n in plan["Plans"] if n.get("Subplan Name") == "CTE observed")
    return {
        "wal_records": node["WAL Records"],
        "wal_bytes": node["WAL Bytes"],
        "blocks": node["Shared Hit Blocks"] + node["Shared Read Blocks"],
        "dirtied": node["Shared Dirtied Blocks"],
    }


def print_work(work: Work) -> None:
    """Mean per check-in of the upsert's WAL records, WAL bytes, blocks touched, dirtied.

    The mean, not the median: an update that is not HOT (its page had no room) writes
    every index, and how often that happens is part of the cost.
    """
    print("the observation upsert's work per check-in (EXPLAIN ANALYZE; mean):")
    print(
        f"{'mode':7s} {'batch':>5s} {'indexes':8s} {'WAL records':>11s} {'WAL bytes':>10s}"
        f" {'blocks':>7s} {'dirtied':>8s} {'statements':>11s}"
    )
    for (mode, size, present), samples in sorted(
        work.items(), key=lambda w: (w[0][0], w[0][1], not w[0][2])
    ):
        figures = [
            statistics.fmean(s[f] for s in samples) / size
            for f in ("wal_records", "wal_bytes", "blocks", "dirtied")
        ]
        label = "with" if present else "without"
        print(
            f"{mode:7s} {size:5d} {label:8s} {figures[0]:11.1f} {figures[1]:10.0f}"
            f" {figures[2]:7.1f} {figures[3]:8.2f} {len(samples):11d}"
        )


def index_sizes(cursor: Any) -> list[tuple[str, int]]:
    cursor.execute(
        "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
        "WHERE c.relname = ANY(%s) ORDER BY c.relname",
        (list(SEARCH_INDEXES),),
    )
    return [(name, size) for name, size in cursor.fetchall()]


def report_sizes(label: str, cursor: Any, *, counted: bool) -> None:
    """The table's and the three indexes' sizes; ``counted``: its rows, else the estimate."""
    if counted:
        cursor.execute("SELECT count(*) FROM usage_observations")
        rows = f"{cursor.fetchone()[0]:,} observations"
    else:  # the fleet is only read from its catalogue
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'usage_observations'"
        )
        rows = f"about {cursor.fetchone()[0]:,} observations (pg_class.reltuples)"
    cursor.execute("SELECT pg_relation_size('usage_observations')")
    table = cursor.fetchone()[0]
    print(f"{label}: {rows}, table {table / 2**20:.1f} MiB")
    sizes = index_sizes(cursor)
    for name, size in sizes:
        print(f"  {name:40s} {size / 2**20:8.1f} MiB")
    print(f"  {'the three':40s} {sum(s for _, s in sizes) / 2**20:8.1f} MiB")


Timings = dict[tuple[str, str, int, bool], list[float]]


def bench_instances(license_id: uuid.UUID) -> list[uuid.UUID]:
    """The bench's own live activations on the demo license (app context)."""
    session = db.session()
    ids = [uuid.uuid4() for _ in range(INSTANCES)]
    for n, activation_id in enumerate(ids):
        session.add(
            Activation(
                id=activation_id,
                license_id=license_id,
                fingerprint=f"bench-fingerprint-{n:04d}",
                server_name=f"mail-{n}.example.com",
                product_version="2.1.0",
                activated_at=datetime.now(UTC),
                last_check_in_at=datetime.now(UTC),
            )
        )
    session.commit()
    return ids


Work = dict[tuple[str, int, bool], list[dict[str, int]]]


class Arms:
    """The figures gathered so far, by (synchronous_commit, mode, batch, indexes)."""

    def __init__(self) -> None:
        self.timings: Timings = {}  # every statement's wall time
        self.per_round: Timings = {}  # each round's median
        self.work: Work = {}  # the upsert's counted work, by (mode, batch, indexes)


def one_round(
    cursor: Any, fleet: Fleet, args: argparse.Namespace, present: bool, arms: Arms
) -> None:
    for size in args.batch:  # warm-up: plans (the DDL invalidated them), caches
        for mode in MODES:
            for _ in range(30):
                run(cursor, fleet.batch(size, mode))
    for commit in args.synchronous_commit:
        cursor.execute(f"SET synchronous_commit = {commit}")
        for size in args.batch:
            for mode in MODES:
                spent = [run(cursor, fleet.batch(size, mode)) for _ in range(args.statements)]
                key = (commit, mode, size, present)
                arms.timings.setdefault(key, []).extend(spent)
                arms.per_round.setdefault(key, []).append(statistics.median(spent))
    cursor.execute("RESET synchronous_commit")
    for size in args.batch:
        for mode in MODES:
            samples = arms.work.setdefault((mode, size, present), [])
            for _ in range(args.explained):
                samples.append(observed_work(cursor, fleet.batch(size, mode)))


def alternate(cursor: Any, fleet: Fleet, args: argparse.Namespace) -> Arms:
    """The rounds, with, without, without, with, ... the indexes; they exist at the end."""
    arms = Arms()
    builds: list[float] = []
    present = True  # as migrated
    # The instances' rows of the day start on the crowded last page: their first updates
    # move them (not HOT) until each sits on a page with room, as a live table's rows do.
    for size in args.batch:
        for _ in range(300):
            run(cursor, fleet.batch(size, "upsert"))
    for round_ in range(args.rounds):
        wanted = round_ % 4 in (0, 3)
        if wanted != present:
            started = time.perf_counter()
            set_indexes(cursor, wanted)
            if wanted:
                builds.append(time.perf_counter() - started)
            present = wanted
        one_round(cursor, fleet, args, present, arms)
    if not present:
        set_indexes(cursor, True)
    if builds:
        print(
            f"creating the three indexes between rounds took "
            f"{statistics.median(builds):.2f} s (median of {len(builds)})"
        )
    return arms


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database = args.database or f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')  # fails if it exists: never reused
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    os.environ.update(
        LICENSING_DATABASE_URL=url,
        LICENSING_INSTANCE_PATH=tempfile.mkdtemp(prefix="licensing-observation-indexes-"),
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
            fleet = Fleet(current().sealer, license_id, bench_instances(license_id))
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
                cursor: Any = connection.cursor()
                filled = time.perf_counter()
                fill(cursor, license_id, args.rows)
                cursor.execute("SELECT count(*) FROM usage_observations")
                print(
                    f"table filled with {cursor.fetchone()[0]:,} observations "
                    f"in {time.perf_counter() - filled:.1f} s; {args.rounds} rounds x "
                    f"{args.statements} statements per mode and batch"
                )
                arms = alternate(cursor, fleet, args)
                print_timings(arms.timings, arms.per_round)
                print_work(arms.work)
                print(f"new observation rows written: {fleet.addresses:,} (insert mode)")
                report_sizes(f"this run's table ({database})", cursor, counted=True)
        fleet_database = args.fleet.rsplit("/", 1)[-1]
        fleet_url = args.fleet.replace("+psycopg", "")
        read_only = "-c default_transaction_read_only=on"
        with psycopg.connect(fleet_url, options=read_only, autocommit=True) as connection:
            report_sizes(
                f"fleet database ({fleet_database}, read-only)", connection.cursor(), counted=False
            )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


def print_timings(timings: Timings, per_round: Timings) -> None:
    """Median per statement and per check-in, with and without the indexes, and the gap."""
    print(
        f"{'sync':4s} {'mode':7s} {'batch':>5s} {'indexes':8s} {'median ms':>10s}"
        f" {'µs/check-in':>12s}  round medians, ms"
    )
    commits = list(dict.fromkeys(key[0] for key in timings))
    sizes = sorted({key[2] for key in timings})
    for commit in commits:
        for mode in MODES:
            for size in sizes:
                medians = {}
                for present in (True, False):
                    key = (commit, mode, size, present)
                    medians[present] = median = statistics.median(timings[key]) * 1e3
                    rounds = per_round[key]
                    spread = f"{min(rounds) * 1e3:.3f}-{max(rounds) * 1e3:.3f}"
                    label = "with" if present else "without"
                    print(
                        f"{commit:4s} {mode:7s} {size:5d} {label:8s} {median:10.3f} "
                        f"{median * 1e3 / size:12.1f}  {spread}"
                    )
                delta = medians[True] - medians[False]
                # Adjacent rounds paired (with, without, without, with, ...): µs/check-in.
                pairs = zip(
                    per_round[(commit, mode, size, True)],
                    per_round[(commit, mode, size, False)],
                    strict=True,
                )
                paired = " ".join(f"{(w - o) * 1e6 / size:+.1f}" for w, o in pairs)
                print(
                    f"{commit:4s} {mode:7s} {size:5d} {'diff':8s} {delta:+10.3f}"
                    f" {delta * 1e3 / size:+12.1f}  ({delta / medians[False] * 100:+.1f} %);"
                    f" paired rounds, µs/check-in: {paired}"
                )


if __name__ == "__main__":
    sys.exit(main())
