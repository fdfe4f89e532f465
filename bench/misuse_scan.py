"""The misuse scan on the synthetic fleet: its time, what it found, and check-ins meanwhile.

Run from the checkout on a fleet made by ``bench/fleet.py`` (see bench/README.md,
"Misuse scan (issue 12)")::

    .venv/bin/python bench/misuse_scan.py [--manifest bench/fleet-manifest.json]

1. ``licensing misuse scan --full --json`` on the fleet, timed.
2. The cases it wrote (``misuse_cases``) against the manifest: every planted license has
   a case for its rule, no look-alike has one for a rule it imitates, and the cases
   nobody planted are counted (a few listed).
3. One more day of check-ins (``bench/fleet.py --one-day``), then the incremental
   ``licensing misuse scan --json``, timed, and the cases checked again.
4. Signed check-ins at a steady rate against ``licensing serve`` on the fleet, first with
   nothing else running, then while a full scan runs: p99 of each and their ratio.

Every command runs with the fleet's instance folder (its master key) and database. It
prints figures and asserts nothing about time. Exit status: 0 when the cases match the
manifest, 1 when they do not, 2 when a scan command failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from checkins import Backend, free_port, server  # noqa: E402
from fleet_load import connect  # noqa: E402
from fleet_rules import compare  # noqa: E402
from steady_checkins import Seat, presign, send_steadily  # noqa: E402

LICENSING = str(Path(sys.executable).with_name("licensing"))
FULL_SCAN = f"{LICENSING} misuse scan --full --json"
INCREMENTAL_SCAN = f"{LICENSING} misuse scan --json"
TARGET_RATIO = 2.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=BENCH / "fleet-manifest.json")
    parser.add_argument("--full-scan", default=FULL_SCAN, help=f"default: {FULL_SCAN}")
    parser.add_argument("--incremental-scan", default=INCREMENTAL_SCAN)
    parser.add_argument("--rate", type=float, default=50, help="check-ins per second (50)")
    parser.add_argument("--idle-seconds", type=float, default=30, help="idle phases (30 s)")
    parser.add_argument("--max-scan-seconds", type=float, default=120, help="signed ahead")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker")
    parser.add_argument("--no-one-day", action="store_true", help="skip step 3")
    parser.add_argument("--no-check-ins", action="store_true", help="skip step 4")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


def run_scan(command: str, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    result = subprocess.run(
        shlex.split(command), env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    summary: Any = None
    try:
        summary = json.loads(result.stdout)
    except json.JSONDecodeError:
        summary = result.stdout.strip()[-500:]
    return {
        "command": command,
        "exit": result.returncode,
        "seconds": round(seconds, 2),
        "summary": summary,
        "stderr": result.stderr.strip()[-800:],
    }


def cases_against_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    with connect(manifest["database"]) as c:
        cases = c.execute(
            "SELECT license_id::text, rule, status, summary FROM misuse_cases"
        ).fetchall()
    fired: dict[str, set[str]] = {}
    summaries = {}
    for license_id, rule, _status, summary in cases:
        fired.setdefault(license_id, set()).add(rule)
        summaries[(license_id, rule)] = summary
    result = compare(manifest, fired)
    result["cases"] = len(cases)
    result["unplanted_examples"] = [
        {"license_id": lic, "rule": rule, "summary": summaries[(lic, rule)]}
        for lic, rule in result["unplanted"][:5]
    ]
    result["unplanted"] = len(result["unplanted"])
    result["matches"] = all(
        f["found"] == f["planted"] for f in result["planted"].values()
    ) and not any(f["flagged"] for f in result["look_alikes"].values())
    return result


def check_ins_during_scan(args: argparse.Namespace, be: Backend, manifest: dict[str, Any]) -> Any:
    seats = [Seat.from_entry(e) for e in json.loads(Path(manifest["keys_file"]).read_text())]
    with server(be, free_port(), args.workers, args.threads) as srv:

        def phase(seconds: float) -> Any:
            signed = presign(srv.base, seats, int(args.rate * seconds) + 1)
            return send_steadily(signed, args.rate, lambda t: t >= seconds)

        phase(5)  # warm-up: caches, connection pools, the check-in licenses' pages
        idle, idle_load = phase(args.idle_seconds), os.getloadavg()[0]
        signed = presign(srv.base, seats, int(args.rate * args.max_scan_seconds))
        with tempfile.TemporaryFile() as out:
            started = time.perf_counter()
            scan = subprocess.Popen(
                shlex.split(args.full_scan), env=be.environment(), stdout=out, stderr=out
            )
            during = send_steadily(signed, args.rate, lambda t: scan.poll() is not None)
            scan_exit = scan.wait()
            scan_seconds = time.perf_counter() - started
        during_load = os.getloadavg()[0]
        # Idle once more: on a shared machine one idle phase can be the disturbed one.
        after, after_load = phase(args.idle_seconds), os.getloadavg()[0]
    # The quieter idle phase is the baseline: the stricter ratio.
    idle_p99 = min(idle.percentile(0.99), after.percentile(0.99))
    return {
        "rate": args.rate,
        "idle": {**idle.summary(), "load_average": idle_load},
        "during_full_scan": {**during.summary(), "load_average": during_load},
        "idle_after": {**after.summary(), "load_average": after_load},
        "scan_exit": scan_exit,
        "scan_seconds": round(scan_seconds, 2),
        "p99_ratio": round(during.percentile(0.99) / idle_p99, 2) if idle_p99 else None,
        "target_ratio": TARGET_RATIO,
    }


def print_cases(title: str, checked: dict[str, Any]) -> None:
    print(f"{title}: {checked['cases']} cases")
    for rule, f in checked["planted"].items():
        share = 100 * f["found"] / f["planted"] if f["planted"] else 0
        print(f"  planted {rule:22} {f['found']:>4} / {f['planted']} ({share:.0f} %)")
    for kind, f in checked["look_alikes"].items():
        print(f"  look-alike {kind:30} {f['flagged']:>3} / {f['licenses']} flagged")
    print(f"  unplanted cases: {checked['unplanted']}")
    for example in checked["unplanted_examples"]:
        print(f"    {example['license_id']} {example['rule']}: {example['summary']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    database = manifest["database"].rsplit("/", 1)[-1]
    be = Backend(
        name="postgresql", instance_path=Path(manifest["instance_path"]), database=database
    )
    figures: dict[str, Any] = {"fleet": {"database": database, **manifest["counts"]}}
    print(f"fleet {database}: {manifest['counts']} (generated for {manifest['now']})")

    full = figures["full_scan"] = run_scan(args.full_scan, be.environment())
    print(f"full scan: {full['seconds']} s, exit {full['exit']}: {full['summary']}")
    if full["exit"] != 0:
        print(full["stderr"], file=sys.stderr)
        return 2
    checked = figures["after_full_scan"] = cases_against_manifest(manifest)
    print_cases("after the full scan", checked)

    if not args.no_one_day:
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "fleet.py"),
                "--one-day",
                "--manifest",
                str(args.manifest),
            ],
            check=True,
        )
        manifest = json.loads(args.manifest.read_text())
        figures["one_day"] = manifest["one_days"][-1]
        incremental = figures["incremental_scan"] = run_scan(
            args.incremental_scan, be.environment()
        )
        print(
            f"incremental scan: {incremental['seconds']} s, exit {incremental['exit']}:"
            f" {incremental['summary']}"
        )
        if incremental["exit"] != 0:
            print(incremental["stderr"], file=sys.stderr)
            return 2
        checked = figures["after_incremental_scan"] = cases_against_manifest(manifest)
        print_cases("after the incremental scan", checked)

    if not args.no_check_ins:
        during = figures["check_ins"] = check_ins_during_scan(args, be, manifest)
        print(
            f"check-ins at {during['rate']}/s: idle {during['idle']}\n"
            f"  during a full scan ({during['scan_seconds']} s, exit {during['scan_exit']}):"
            f" {during['during_full_scan']}\n"
            f"  idle after it: {during['idle_after']}\n"
            f"  p99 ratio {during['p99_ratio']} (during / the quieter idle; target <="
            f" {TARGET_RATIO})"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if checked["matches"] else 1


if __name__ == "__main__":
    sys.exit(main())
