"""A synthetic fleet on PostgreSQL for the misuse scan: 100,000 licenses, 150,000
activations, 3,000,000 usage observations over 30 days, with a known planted set.

Run from the checkout (see bench/README.md, "Misuse scan (issue 12)")::

    .venv/bin/python bench/fleet.py                 # the full fleet into database "fleet"
    .venv/bin/python bench/fleet.py --scale 0.01    # a small one, seconds
    .venv/bin/python bench/fleet.py --one-day       # one more day of check-ins

The schema is built by the product's migrations; the rows are bulk-loaded with COPY in
one transaction. Keyed hashes (ip_hash, server_name_hash, observation_key) are made by
the product's own sealer under the fleet's master key (the instance folder's
``master.key``), so a server or scan started on the same instance folder reads the fleet
exactly as its own data. Writes ``bench/fleet-manifest.json`` (planted license ids per
rule, look-alike ids per kind, row counts) and ``bench/fleet-keys.json`` (the license keys
of the licenses the check-in measurement signs with; mode 0600). Both are generated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from fleet_load import (  # noqa: E402 - after the path set-up, as a script
    DEFAULT_URL,
    append_one_day,
    connect,
    load,
    migrate,
    replace_database,
)
from fleet_patterns import LOOK_ALIKES, PATTERNS, Plant, Releases  # noqa: E402
from fleet_rows import BackgroundSeat, FleetRows, LicenseRow  # noqa: E402

MANIFEST = BENCH / "fleet-manifest.json"
KEYS = BENCH / "fleet-keys.json"
INSTANCE = BENCH / "fleet-instance"
FULL = {"licenses": 100_000, "activations": 150_000, "observations": 3_000_000}
ONE_DAY_CHECK_INS = 100_000
PLANTED_PER_KIND = 50
CHECK_IN_LICENSES = 300
# Oldest days stored as the retention job leaves them (hashes and prefix, no raw values),
# so the scan reads both shapes of a row.
PSEUDONYMISED_DAYS = 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"database (default {DEFAULT_URL})")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full fleet")
    parser.add_argument("--now", type=_moment, default=None, help="ISO time the fleet ends at")
    parser.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    parser.add_argument("--planted", type=int, default=None, help="licenses per planted kind")
    parser.add_argument("--instance", type=Path, default=INSTANCE, help="instance folder")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--keys", type=Path, default=KEYS)
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="load into the existing (empty) database instead of dropping and creating it",
    )
    parser.add_argument(
        "--one-day",
        action="store_true",
        help="append one day of check-ins (ending at --now) to the fleet of --manifest",
    )
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    return args


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def progress(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


# --------------------------------------------------------------------------- generation


def plant(rows: FleetRows, now: datetime, per_kind: int, rng: random.Random) -> dict[str, Any]:
    """Every planted pattern and look-alike, ``per_kind`` licenses each."""
    p = Plant(rows, now, Releases(), rng)
    planted: dict[str, list[str]] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, (rule, planter) in PATTERNS.items():
        ids = [str(planter(p).id) for _ in range(per_kind)]
        by_kind[kind] = ids
        planted.setdefault(rule, []).extend(ids)
    look_alikes = {}
    for kind, (rules, planter) in LOOK_ALIKES.items():
        ids = [str(planter(p).id) for _ in range(per_kind)]
        look_alikes[kind] = {"imitates": list(rules), "licenses": ids}
    return {"planted": planted, "planted_by_kind": by_kind, "look_alikes": look_alikes}


def background(
    rows: FleetRows, now: datetime, *, licenses: int, activations: int, rng: random.Random
) -> tuple[list[LicenseRow], list[BackgroundSeat]]:
    """The ordinary fleet's licenses and seats (observations come later, streamed)."""
    releases = Releases()
    made = []
    extra = max(activations - licenses, 0)  # seats beyond the first, on 2- and 3-seat editions
    triples = min(licenses // 10, extra // 2)
    doubles = min(licenses - triples, extra - 2 * triples)
    seats_plan = [3] * triples + [2] * doubles + [1] * (licenses - triples - doubles)
    rng.shuffle(seats_plan)
    seats = []
    for n, seat_count in enumerate(seats_plan):
        edition = {1: "single", 2: "double", 3: "triple"}[seat_count]
        ended = rng.random() < 0.2  # protection ended 30-300 days ago: runs an old release
        issued = now - timedelta(days=rng.randint(401, 900))  # before any of its seats
        protection = now + timedelta(days=rng.randint(1, 365))
        if ended:
            protection = now - timedelta(days=rng.randint(30, 300))
        lic = rows.license(
            edition,
            issued_at=issued,
            status_changed_at=issued,
            upgrade_protection_until=protection,
        )
        made.append(lic)
        version = (
            releases.old
            if ended
            else rng.choices((releases.old, releases.recent, releases.newest), (2, 6, 2))[0]
        )
        for k in range(seat_count):
            in_window = rng.random() < 0.08
            activated = now - timedelta(
                days=rng.randint(1, 28) if in_window else rng.randint(31, 400),
                minutes=rng.randint(0, 1439),
            )
            seat = rows.activation(
                lic, activated, server_name=f"mail{k}.c{n}.example", version=version
            )
            # A /24 of its own (first octets 20-22: never one of the planted networks').
            n_seat = len(seats)
            network = f"{20 + (n_seat >> 16)}.{(n_seat >> 8) & 255}.{n_seat & 255}"
            seats.append(BackgroundSeat(seat, network, minute=rng.randint(0, 1439)))
    return made, seats


def generate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    now = (args.now or datetime.now(UTC)).replace(microsecond=0)
    rng = random.Random(args.seed)
    target = {name: max(1, round(value * args.scale)) for name, value in FULL.items()}
    per_kind = args.planted or max(2, round(PLANTED_PER_KIND * args.scale))
    check_in_licenses = max(5, round(CHECK_IN_LICENSES * args.scale))

    if not args.keep_database:
        replace_database(args.url)
    migrate(args.url, args.instance)
    progress(f"schema migrated ({args.url.rsplit('/', 1)[-1]})", started)
    from licensing import create_app
    from licensing.runtime import current

    app = create_app(
        {"LICENSING_DATABASE_URL": args.url, "LICENSING_INSTANCE_PATH": str(args.instance)}
    )
    with app.app_context():
        sealer = current().sealer
        pseudonymised_before = (now - timedelta(days=30 - PSEUDONYMISED_DAYS)).date()
        rows = FleetRows(sealer, now, pseudonymised_before=pseudonymised_before)
        sets = plant(rows, now, per_kind, rng)
        planted_licenses = len(rows.licenses)
        planted_activations = len(rows.activations)
        others = target["licenses"] - planted_licenses
        if others < check_in_licenses:
            raise SystemExit("--scale too small for the planted set; use --planted")
        progress(
            f"planted {planted_licenses} licenses ({per_kind} per kind), "
            f"{rows.observations} observations",
            started,
        )
        rows.check_unique = False
        lics, seats = background(
            rows,
            now,
            licenses=others,
            activations=target["activations"] - planted_activations,
            rng=rng,
        )
        check_ins = [lic for lic in lics if lic.edition == "double"][:check_in_licenses]
        progress(f"{len(rows.licenses)} licenses, {len(rows.activations)} activations", started)
        counts = load(
            args.url,
            rows,
            seats,
            observations=target["observations"],
            rng=rng,
            progress=lambda message: progress(message, started),
        )
        _dispose()
    write_keys(args.keys, rows, check_ins)
    manifest = {
        "database": args.url,
        "instance_path": str(args.instance),
        "now": now.isoformat(),
        "scale": args.scale,
        "seed": args.seed,
        "per_kind": per_kind,
        "counts": counts,
        **sets,
        "check_in_licenses": [str(lic.id) for lic in check_ins],
        "keys_file": str(args.keys),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.manifest.write_text(json.dumps(manifest, indent=1) + "\n")
    progress(f"manifest {args.manifest}; counts {counts}", started)
    return manifest


def _dispose() -> None:
    """Close what the app opened (the sealer's hash keys are read through its session)."""
    from licensing.extensions import db

    db.session.remove()
    db.engine.dispose()


def write_keys(path: Path, rows: FleetRows, licenses: list[LicenseRow]) -> None:
    """The license keys the check-in measurement signs with (secrets: mode 0600)."""
    first_seat = {}
    for seat in rows.activations:
        first_seat.setdefault(seat.license.id, seat)
    entries = [
        {
            "license_id": str(lic.id),
            "key_id": lic.key_id,
            "key": lic.key.display,
            "fingerprint": first_seat[lic.id].fingerprint,
            "server_name": first_seat[lic.id].server_name,
            "product_version": first_seat[lic.id].product_version,
        }
        for lic in licenses
    ]
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(entries, handle, indent=1)


def one_day(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    manifest = json.loads(args.manifest.read_text())
    now = (args.now or datetime.now(UTC)).replace(microsecond=0)
    excluded = {lic for ids in manifest["planted"].values() for lic in ids}
    excluded |= {lic for kind in manifest["look_alikes"].values() for lic in kind["licenses"]}
    excluded |= set(manifest["check_in_licenses"])
    check_ins = max(1, round(ONE_DAY_CHECK_INS * manifest["scale"]))
    # Each day its own draw of seats and news.
    rng = random.Random(args.seed + 1 + len(manifest.get("one_days", [])))
    from licensing import create_app
    from licensing.runtime import current

    url, instance = manifest["database"], manifest["instance_path"]
    app = create_app({"LICENSING_DATABASE_URL": url, "LICENSING_INSTANCE_PATH": instance})
    with app.app_context(), connect(url) as connection:
        sealer = current().sealer
        figures = append_one_day(
            connection, now, check_ins, sorted(excluded), rng=rng, keyed_hash=sealer.keyed_hash
        )
        _dispose()
    manifest.setdefault("one_days", []).append({"now": now.isoformat(), **figures})
    args.manifest.write_text(json.dumps(manifest, indent=1) + "\n")
    progress(f"one day of check-ins until {now.isoformat()}: {figures}", started)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one_day:
        one_day(args)
        return 0
    generate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
