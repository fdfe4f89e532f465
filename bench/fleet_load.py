"""Loading a fleet into PostgreSQL: the database, the migrations, COPY, one more day.

Foreign-key triggers are switched off for the load (``session_replication_role =
replica``, the way pg_restore loads data): the rows are consistent by construction, and
checking 3 million references one by one would dominate the load. The indexes and the
unique constraints stay on and are maintained as the rows arrive.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fleet_rows import DAY, NULL, BackgroundSeat, FleetRows, KeyedHash, bytea, ipv4_prefix, text, ts

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/fleet"
FLUSH_LINES = 100_000
# The background's address changes within its /24 (a new DHCP lease): one network.
READDRESSED = 0.1

TABLES = (
    "licenses",
    "customers",
    "activations",
    "usage_observations",
    "lease_presentations",
    "signature_failures",
)
EDITIONS = {  # code: (name, seats, migration window days)
    "single": ("Single server", 1, 30),
    "single-short": ("Single server, 14-day migration", 1, 14),
    "double": ("Two servers", 2, 30),
    "triple": ("Three servers", 3, 30),
}
RELEASES = {"2.0": 700, "3.0": 365, "3.1": 100, "4.0": 20}  # version: days ago


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(url: str, **options: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(libpq_url(url), **options)


def replace_database(url: str) -> None:
    """Drop and create the fleet's database (only the one named in ``url``)."""
    server, name = libpq_url(url).rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def migrate(url: str, instance: Path) -> None:
    """The product's own migrations (Alembic through Flask-Migrate), as the CLI runs them."""
    import flask_migrate

    from licensing import create_app
    from licensing.extensions import db

    instance.mkdir(parents=True, exist_ok=True)
    app = create_app({"LICENSING_DATABASE_URL": url, "LICENSING_INSTANCE_PATH": str(instance)})
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
        db.engine.dispose()


def _copy(cursor: psycopg.Cursor[Any], table: str, columns: str, lines: Sequence[str]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(lines), FLUSH_LINES):
            copy.write("\n".join(lines[start : start + FLUSH_LINES]) + "\n")


def load(
    url: str,
    rows: FleetRows,
    seats: list[BackgroundSeat],
    *,
    observations: int,
    rng: random.Random,
    progress: Callable[[str], None],
) -> dict[str, int]:
    """Write the catalogue, the licenses, the observations (the background's streamed),
    the activations and the evidence; returns the rows written per table."""
    now = rows.now
    with connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        product, editions = _catalog(cursor, now)
        _licenses(cursor, rows, product, editions)
        progress(f"{len(rows.licenses)} licenses and customers copied")
        background = _observe_background(rows, seats, observations, rng)
        with cursor.copy(
            "COPY usage_observations (activation_id, license_id, day, observation_key, ip,"
            " ip_hash, ip_prefix, server_name, server_name_hash, product_version, count,"
            " first_seen, last_seen, usage, pseudonymised_at) FROM STDIN"
        ) as copy:
            for lines in background:
                copy.write("\n".join(lines) + "\n")
                progress(f"{rows.observations} observations")
        _activations(cursor, rows)
        _copy(
            cursor,
            "lease_presentations",
            "license_id, activation_id, presented_jti, newest_jti, at, ip_prefix, ip_hash,"
            " issued_jti",
            rows.lease_presentations,
        )
        _copy(cursor, "signature_failures", "key_id, bucket_start, count", rows.signature_failures)
        cursor.execute("SET session_replication_role = DEFAULT")
        progress("activations and evidence copied; committing")
    with connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    progress("vacuumed and analysed")
    return {
        "licenses": len(rows.licenses),
        "customers": len(rows.licenses),
        "activations": len(rows.activations),
        "usage_observations": rows.observations,
        "lease_presentations": len(rows.lease_presentations),
        "signature_failures": len(rows.signature_failures),
    }


def _catalog(cursor: psycopg.Cursor[Any], now: datetime) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    product = uuid.uuid4()
    cursor.execute(
        "INSERT INTO products (id, code, name, created_at) VALUES (%s, %s, %s, %s)",
        (product, "fleet-mailserver", "Fleet Mail Server", now - timedelta(days=1000)),
    )
    editions = {code: uuid.uuid4() for code in EDITIONS}
    cursor.executemany(
        "INSERT INTO editions (id, product_id, code, name, max_activations,"
        " migration_window_days, migration_allowance, check_in_interval_seconds,"
        " dead_after_intervals, offline_grace_days, entitlements, upgrade_protection_months,"
        " created_at) VALUES (%s, %s, %s, %s, %s, %s, 1, 86400, 3, 7, '[]', 12, %s)",
        [
            (editions[code], product, code, name, seats, window, now - timedelta(days=1000))
            for code, (name, seats, window) in EDITIONS.items()
        ],
    )
    cursor.executemany(
        "INSERT INTO releases (id, product_id, version, released_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        [
            (uuid.uuid4(), product, version, now - timedelta(days=ago), now - timedelta(days=ago))
            for version, ago in RELEASES.items()
        ],
    )
    return product, editions


def _licenses(
    cursor: psycopg.Cursor[Any],
    rows: FleetRows,
    product: uuid.UUID,
    editions: dict[str, uuid.UUID],
) -> None:
    customers, licenses = [], []
    for lic in rows.licenses:
        customer = uuid.uuid4()
        issued = lic.issued_at or rows.now
        customers.append(
            "\t".join(
                (
                    str(customer),
                    f"Fleet customer {lic.number}",
                    f"customer{lic.number}@fleet.example",
                    f"Company {lic.number}",
                    ts(issued),
                )
            )
        )
        sealed = rows.sealer.seal(
            lic.key.normalised.encode("ascii"), table="licenses", row_id=lic.id
        )
        licenses.append(
            "\t".join(
                (
                    str(lic.id),
                    lic.key_id,
                    bytea(sealed),
                    lic.key.hint,
                    str(product),
                    str(editions[lic.edition]),
                    str(customer),
                    lic.status,
                    ts(lic.status_changed_at or issued),
                    ts(issued),
                    NULL
                    if lic.upgrade_protection_until is None
                    else ts(lic.upgrade_protection_until),
                    "f",
                    ts(issued),
                )
            )
        )
    _copy(cursor, "customers", "id, name, email, company, created_at", customers)
    _copy(
        cursor,
        "licenses",
        "id, key_id, sealed_key, key_hint, product_id, edition_id, customer_id, status,"
        " status_changed_at, issued_at, upgrade_protection_until, processing_restricted,"
        " created_at",
        licenses,
    )


def _observe_background(
    rows: FleetRows, seats: list[BackgroundSeat], target: int, rng: random.Random
) -> Any:
    """Yield observation lines in chunks: the planted ones, then the background's daily
    check-ins, exactly as many as make the total ``target`` (selection sampling: each
    moment kept with the probability still needed / still left)."""
    now = rows.now
    since = now - timedelta(days=30)
    first_day = datetime.combine(since.date(), datetime.min.time(), tzinfo=now.tzinfo)

    def moments(seat: BackgroundSeat) -> list[datetime]:
        start = max(since, seat.activation.activated_at)
        base = first_day + timedelta(minutes=seat.minute)
        return [t for t in (base + d * DAY for d in range(32)) if start < t <= now]

    eligible = sum(len(moments(seat)) for seat in seats)
    needed = max(0, target - rows.observations)
    yield rows.take_observation_lines()
    for seat in seats:
        network = seat.network
        ip = f"{network}.{rng.randint(10, 250)}"
        # Half-way through the window, a new address in the same /24 (or the same one).
        later_ip = f"{network}.{rng.randint(10, 250)}" if rng.random() < READDRESSED else ip
        times = moments(seat)
        for n, moment in enumerate(times):
            eligible -= 1
            if rng.random() * (eligible + 1) >= needed:
                continue
            needed -= 1
            rows.observe(seat.activation, moment, ip=ip if n < len(times) // 2 else later_ip)
        if len(rows.observation_lines) >= FLUSH_LINES * 5:
            yield rows.take_observation_lines()
    yield rows.take_observation_lines()


def _activations(cursor: psycopg.Cursor[Any], rows: FleetRows) -> None:
    lines = [
        "\t".join(
            (
                str(a.id),
                str(a.license.id),
                a.fingerprint,
                a.server_name,
                a.product_version,
                "released" if a.released_at else "active",
                ts(a.activated_at),
                ts(a.last_check_in_at or a.activated_at),
                NULL if a.released_at is None else ts(a.released_at),
                text(a.release_reason),
                NULL if a.migration_until is None else ts(a.migration_until),
                text(a.lease_jti),
            )
        )
        for a in rows.activations
    ]
    _copy(
        cursor,
        "activations",
        "id, license_id, fingerprint, server_name, product_version, status, activated_at,"
        " last_check_in_at, released_at, release_reason, migration_until, lease_jti",
        lines,
    )


# --------------------------------------------------------------------------- one more day

_LATEST = """
SELECT DISTINCT ON (o.activation_id) o.activation_id, o.license_id, o.observation_key, o.ip,
       o.ip_hash, o.ip_prefix, o.server_name, o.server_name_hash, o.product_version,
       l.upgrade_protection_until, coalesce(l.max_activations_override, e.max_activations)
FROM usage_observations o JOIN activations a ON a.id = o.activation_id
JOIN licenses l ON l.id = o.license_id JOIN editions e ON e.id = l.edition_id
WHERE a.status = 'active' AND o.day >= %s AND o.ip IS NOT NULL
  AND NOT (o.license_id = ANY(%s))
ORDER BY o.activation_id, o.last_seen DESC
"""

_UPSERT = """
WITH written AS (
    INSERT INTO usage_observations (activation_id, license_id, day, observation_key, ip,
        ip_hash, ip_prefix, server_name, server_name_hash, product_version, count,
        first_seen, last_seen, usage)
    SELECT activation_id, license_id, (at AT TIME ZONE 'UTC')::date, observation_key, ip,
        ip_hash, ip_prefix, server_name, server_name_hash, product_version, 1, at, at,
        '{}'::jsonb
    FROM day_check_ins
    ON CONFLICT (activation_id, day, observation_key) DO UPDATE
        SET count = usage_observations.count + 1,
            first_seen = least(usage_observations.first_seen, excluded.first_seen),
            last_seen = greatest(usage_observations.last_seen, excluded.last_seen)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
"""


# A day's check-ins that are news to the scan (a value the seat had not shown): a new
# address in the seat's /24, a move to a new /24 (single-seat licenses only, so that days
# after days do not add up to a network spread of several seats), an upgrade to the newest
# release (only where the protection covers it). The rest repeat what their seat reported.
NEW_ADDRESS, NEW_NETWORK, UPGRADE = 0.025, 0.025, 0.01
NEWEST = "4.0"


def _day_check_in(
    row: tuple[Any, ...], keyed_hash: KeyedHash, now: datetime, rng: random.Random, n: int
) -> tuple[tuple[Any, ...], bool]:
    """The check-in's values (as ``day_check_ins`` takes them) and whether it is news."""
    activation, lic, key, ip, ip_hash, prefix, server, server_hash, version, until, seats = row
    draw = rng.random()
    if draw < NEW_ADDRESS:
        ip = f"{ip.rsplit('.', 1)[0]}.{rng.randint(10, 250)}"
    elif draw < NEW_ADDRESS + NEW_NETWORK and seats == 1:
        ip = f"30.{(n >> 8) & 255}.{n & 255}.{rng.randint(10, 250)}"  # never used elsewhere
    elif draw < NEW_ADDRESS + NEW_NETWORK + UPGRADE and until and until > now:
        version = NEWEST
    news = (ip, version) != (row[3], row[8])
    if news:
        ip_hash, prefix = keyed_hash("ip", ip.encode()), ipv4_prefix(ip)
        key = keyed_hash("observation", "\x00".join((ip, server, version)).encode())
    return (activation, lic, key, ip, ip_hash, prefix, server, server_hash, version), news


def append_one_day(
    connection: psycopg.Connection[Any],
    now: datetime,
    check_ins: int,
    excluded: list[str],
    *,
    rng: random.Random,
    keyed_hash: KeyedHash,
) -> dict[str, Any]:
    """``check_ins`` check-ins of the ordinary fleet's live seats, upserted as the server
    does (a new row per new day, else count + 1), and the seats' last check-in touched.

    They are spread over the 24 hours before ``now``, or over the time since the last
    misuse scan's watermark if that is shorter: check-ins a scan has already looked past
    would not be news to the incremental scan that this day is for. Planted, look-alike
    and check-in licenses are left alone so that the manifest stays true."""
    watermark = connection.execute(
        "SELECT max(scanned_until) FROM misuse_scan_state WHERE scanned_until < %s", (now,)
    ).fetchone()
    start = max(now - DAY, watermark[0] if watermark and watermark[0] else now - DAY)
    span = max(1, int((now - start).total_seconds()))
    latest = connection.execute(
        _LATEST, ((now - timedelta(days=7)).date(), [uuid.UUID(i) for i in excluded])
    ).fetchall()
    chosen = rng.sample(latest, min(check_ins, len(latest)))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE day_check_ins (activation_id uuid, license_id uuid,"
            " observation_key bytea, ip text, ip_hash bytea, ip_prefix text, server_name text,"
            " server_name_hash bytea, product_version text, at timestamptz) ON COMMIT DROP"
        )
        news = 0
        with cursor.copy("COPY day_check_ins FROM STDIN") as copy:
            for n, row in enumerate(chosen):
                values, is_news = _day_check_in(row, keyed_hash, now, rng, n)
                news += is_news
                copy.write_row((*values, now - timedelta(seconds=rng.uniform(0, span))))
        inserted, updated = cursor.execute(_UPSERT).fetchone() or (0, 0)
        cursor.execute(
            "UPDATE activations a SET last_check_in_at = greatest(a.last_check_in_at, d.at)"
            " FROM day_check_ins d WHERE a.id = d.activation_id"
        )
        touched = cursor.rowcount
    connection.commit()
    return {
        "from": start.isoformat(),
        "check_ins": len(chosen),
        "with_news": news,
        "rows_inserted": inserted,
        "rows_updated": updated,
        "activations_touched": touched,
    }
