"""The retention job over the benchmark fleet on PostgreSQL (issue 14): how long it runs,
rows per second, how long check-ins wait while it runs, and what it costs when nothing
is due, with and without an index on ``usage_observations(day)``.

Run from the checkout (see bench/README.md, "Retention job (issue 14)")::

    URL=postgresql+psycopg://postgres@127.0.0.1:5432/fleet_retention
    .venv/bin/python bench/fleet.py --url $URL --instance /tmp/fleet_retention_instance \\
        --manifest /tmp/fleet_retention_manifest.json --keys /tmp/fleet_retention_keys.json
    .venv/bin/python bench/retention.py --manifest /tmp/fleet_retention_manifest.json

The runs, in order, on the fleet as built (the job changes it: rebuild it to run again):

1. idle: check-in-like writes alone for ``--idle`` seconds (their p99);
2. nothing due (as of the fleet's end), without and with the ``day`` index (A/B);
3. pseudonymisation: as of 45 days after the fleet's end, every raw row is due;
4. deletion: as of 14 months after, every row is due for deletion.

During 3 and 4 a thread does check-in-like writes to the newest day's rows (one UPDATE
of an observation and of its activation per "check-in", committed), and another samples
``pg_stat_activity`` every 10 ms for sessions waiting on a lock.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from fleet_load import libpq_url  # noqa: E402 - after the path set-up, as a script

DAY_INDEX = "ix_bench_usage_observations_day"


@dataclass
class CheckIns:
    """Check-in-like writes in a loop until stopped: their latencies in ms."""

    url: str
    targets: list[tuple[int, str]]
    latencies: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        rng = random.Random(14)
        with psycopg.connect(self.url) as conn:
            while not self.stop.is_set():
                observation, activation = rng.choice(self.targets)
                started = time.perf_counter()
                conn.execute(
                    "UPDATE usage_observations SET count = count + 1, last_seen = now() "
                    "WHERE id = %s",
                    (observation,),
                )
                conn.execute(
                    "UPDATE activations SET last_check_in_at = now() WHERE id = %s",
                    (activation,),
                )
                conn.commit()
                self.latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.005)


@dataclass
class LockSampler:
    """The longest a session was seen waiting on a lock (ms), sampled every 10 ms."""

    url: str
    longest_ms: float = 0.0
    samples: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                waited = conn.execute(
                    "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0) "
                    "FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                ).fetchone()
                self.samples += 1
                self.longest_ms = max(self.longest_ms, float(waited[0] if waited else 0) * 1000)
                time.sleep(0.01)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[98]


def check_in_targets(url: str) -> tuple[list[tuple[int, str]], datetime]:
    with psycopg.connect(url) as conn:
        newest = conn.execute("SELECT max(day), max(last_seen) FROM usage_observations").fetchone()
        assert newest is not None and newest[0] is not None, "the fleet has no observations"
        rows = conn.execute(
            "SELECT id, activation_id::text FROM usage_observations WHERE day = %s LIMIT 2000",
            (newest[0],),
        ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows], newest[1]


def measure_idle(url: str, targets: list[tuple[int, str]], seconds: float) -> list[float]:
    check_ins = CheckIns(url, targets)
    thread = threading.Thread(target=check_ins.run)
    thread.start()
    time.sleep(seconds)
    check_ins.stop.set()
    thread.join()
    return check_ins.latencies


def enforce(app: Any, as_of: datetime) -> tuple[float, dict[str, int]]:
    from licensing.extensions import db
    from licensing.runtime import current
    from licensing.services import retention

    with app.app_context():
        started = time.perf_counter()
        report = retention.enforce(
            db.session(),
            periods=current().settings.retention,
            as_of=as_of,
            dry_run=False,
            sealer=current().sealer,
            issuer=current().settings.issuer,
        )
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed, {step.value: n for step, n in report.counts.items() if n}


def measured_run(
    app: Any, url: str, targets: list[tuple[int, str]], as_of: datetime
) -> dict[str, Any]:
    check_ins, sampler = CheckIns(url, targets), LockSampler(url)
    threads = [threading.Thread(target=check_ins.run), threading.Thread(target=sampler.run)]
    for thread in threads:
        thread.start()
    try:
        elapsed, counts = enforce(app, as_of)
    finally:
        check_ins.stop.set()
        sampler.stop.set()
        for thread in threads:
            thread.join()
    rows = sum(counts.values())
    return {
        "as_of": as_of.isoformat(),
        "seconds": round(elapsed, 1),
        "rows": rows,
        "rows_per_second": round(rows / elapsed) if elapsed else None,
        "counts": counts,
        "check_ins": len(check_ins.latencies),
        "check_in_p99_ms": round(p99(check_ins.latencies), 1),
        "check_in_max_ms": round(max(check_ins.latencies, default=0), 1),
        "longest_lock_wait_ms": round(sampler.longest_ms, 1),
        "lock_samples": sampler.samples,
    }


def nothing_due(app: Any, libpq: str, as_of: datetime, runs: int) -> dict[str, Any]:
    """The job when nothing is due, without and with an index on the day (A/B, best of)."""
    figures: dict[str, Any] = {}
    for variant in ("without day index", "with day index"):
        if variant.startswith("with "):
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f"CREATE INDEX {DAY_INDEX} ON usage_observations (day)")
                conn.execute("ANALYZE usage_observations")
        times = [enforce(app, as_of)[0] for _ in range(runs)]
        figures[variant] = {"best_s": round(min(times), 2), "runs_s": [round(t, 2) for t in times]}
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f"DROP INDEX IF EXISTS {DAY_INDEX}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=BENCH / "fleet-manifest.json")
    parser.add_argument("--url", help="database (default: the manifest's)")
    parser.add_argument("--instance", type=Path, help="instance folder (default: the manifest's)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle check-ins")
    parser.add_argument("--runs", type=int, default=3, help="runs of the nothing-due job")
    args = parser.parse_args()
    manifest = json.loads(args.manifest.read_text())
    url = args.url or manifest["database"]
    instance = str(args.instance or manifest["instance_path"])
    libpq = libpq_url(url)

    from licensing import create_app

    app = create_app(
        {
            "LICENSING_DATABASE_URL": url,
            "LICENSING_INSTANCE_PATH": instance,
            "LICENSING_LOG_LEVEL": "WARNING",
        }
    )
    targets, end = check_in_targets(libpq)
    results: dict[str, Any] = {"fleet_end": end.isoformat()}
    idle = measure_idle(libpq, targets, args.idle)
    results["idle"] = {"check_ins": len(idle), "check_in_p99_ms": round(p99(idle), 1)}
    print(json.dumps({"idle": results["idle"]}), flush=True)
    results["nothing_due"] = nothing_due(app, libpq, end, args.runs)
    print(json.dumps({"nothing_due": results["nothing_due"]}), flush=True)
    results["pseudonymise"] = measured_run(app, libpq, targets, end + timedelta(days=45))
    print(json.dumps({"pseudonymise": results["pseudonymise"]}), flush=True)
    results["delete"] = measured_run(app, libpq, targets, end + timedelta(days=14 * 31))
    print(json.dumps({"delete": results["delete"]}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
