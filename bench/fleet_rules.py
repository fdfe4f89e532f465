"""The pure misuse rules over a fleet, without the scan: a reference for the manifest.

Builds each license's ``LicenseHistory`` with plain SQL (the values the scan is specified
to read: ip_hash as ip_key, ip_prefix as network, server_name_hash as server_key) and runs
``licensing.misuse.rules.evaluate`` under the default thresholds. It checks the fleet, not
the scan: planted licenses must fire their rule and look-alikes must stay quiet whatever
the scan does. Usage::

    .venv/bin/python bench/fleet_rules.py [--manifest bench/fleet-manifest.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from fleet_load import connect  # noqa: E402

from licensing.misuse.findings import Finding  # noqa: E402
from licensing.misuse.history import (  # noqa: E402
    ActivationTimeline,
    LeasePresentation,
    LicenseHistory,
    Observation,
    SignatureFailureCount,
)
from licensing.misuse.rules import evaluate  # noqa: E402
from licensing.misuse.thresholds import Thresholds  # noqa: E402


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def histories(url: str, now: datetime, thresholds: Thresholds) -> list[LicenseHistory]:
    since = now - thresholds.lookback
    with connect(url) as c:
        releases = {
            v: at for v, at in c.execute("SELECT version, released_at FROM releases").fetchall()
        }
        observations: dict[str, list[Observation]] = defaultdict(list)
        seen: dict[str, tuple[datetime, datetime]] = {}
        for row in c.execute(
            "SELECT license_id, activation_id, day, first_seen, last_seen, count, ip_hash,"
            " ip_prefix, server_name_hash, product_version FROM usage_observations"
            " WHERE day >= %s",
            (since.date(),),
        ):
            lic, act = str(row[0]), str(row[1])
            observations[lic].append(
                Observation(
                    act, row[2], row[3], row[4], row[5], _hex(row[6]), row[7], _hex(row[8]), row[9]
                )
            )
            first, last = seen.get(act, (row[3], row[4]))
            seen[act] = (min(first, row[3]), max(last, row[4]))
        activations: dict[str, list[ActivationTimeline]] = defaultdict(list)
        for act, lic, fingerprint, activated, released, reason in c.execute(
            "SELECT id, license_id, fingerprint, activated_at, released_at, release_reason"
            " FROM activations"
        ):
            first, last = seen.get(str(act), (None, None))
            activations[str(lic)].append(
                ActivationTimeline(str(act), fingerprint, activated, released, reason, first, last)
            )
        leases: dict[str, list[LeasePresentation]] = defaultdict(list)
        for lic, act, presented, newest, at, prefix, issued in c.execute(
            "SELECT license_id, activation_id, presented_jti, newest_jti, at, ip_prefix, issued_jti"
            " FROM lease_presentations WHERE at >= %s",
            (since,),
        ):
            leases[str(lic)].append(
                LeasePresentation(str(act), presented, newest, at, prefix, issued)
            )
        failures: dict[str, list[SignatureFailureCount]] = defaultdict(list)
        for key_id, bucket, count in c.execute(
            "SELECT key_id, bucket_start, count FROM signature_failures WHERE bucket_start >= %s",
            (since,),
        ):
            failures[key_id].append(SignatureFailureCount(key_id, bucket, count))
        licenses = c.execute(
            "SELECT l.id, l.key_id, l.status, l.status_changed_at, l.upgrade_protection_until,"
            " coalesce(l.max_activations_override, e.max_activations), e.migration_window_days,"
            " e.check_in_interval_seconds FROM licenses l JOIN editions e ON e.id = l.edition_id"
        ).fetchall()
    out = []
    for lic_id, key_id, status, changed, protection, seats, window, interval in licenses:
        lic = str(lic_id)
        out.append(
            LicenseHistory(
                license_id=lic,  # type: ignore[arg-type]  # the ids become text (issue 12)
                status=status,
                allowed_activations=seats,
                migration_window=timedelta(days=window),
                check_in_interval=timedelta(seconds=interval),
                status_changed_at=changed if status != "active" else None,
                upgrade_protection_until=protection,
                release_dates=releases,
                activations=tuple(activations[lic]),
                observations=tuple(observations[lic]),
                lease_presentations=tuple(leases[lic]),
                signature_failures=tuple(failures[key_id]),
            )
        )
    return out


def findings(url: str, now: datetime, thresholds: Thresholds | None = None) -> list[Finding]:
    thresholds = thresholds or Thresholds()
    return [f for h in histories(url, now, thresholds) for f in evaluate(h, thresholds, now)]


def findings_by_license(
    url: str, now: datetime, thresholds: Thresholds | None = None
) -> dict[str, set[str]]:
    """The rules that fire per license (licenses with none are left out)."""
    fired: dict[str, set[str]] = {}
    for finding in findings(url, now, thresholds):
        fired.setdefault(str(finding.license_id), set()).add(finding.rule.value)
    return fired


def write_cases(url: str, found: list[Finding], now: datetime) -> int:
    """A stand-in for the scan while it is not built: one open case per finding, written
    straight into misuse_cases (no events, no audit), so bench/misuse_scan.py's checks
    and timings can be exercised end to end. Never a substitute for the scan's figures."""
    with connect(url) as c:
        cursor = c.execute(
            "INSERT INTO misuse_cases (id, license_id, rule, severity, status, summary,"
            " evidence, first_seen, last_seen, opened_at, updated_at)"
            " SELECT gen_random_uuid(), x.license_id::uuid, x.rule, x.severity, 'open',"
            " x.summary, x.evidence::jsonb, x.first_seen, x.last_seen, %(now)s, %(now)s"
            " FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(license_id text, rule text,"
            " severity text, summary text, evidence text, first_seen timestamptz,"
            " last_seen timestamptz) ON CONFLICT (license_id, rule) DO NOTHING",
            {
                "now": now,
                "rows": json.dumps(
                    [
                        {
                            **f.to_json(),
                            "license_id": str(f.license_id),
                            "evidence": json.dumps(f.to_json()["evidence"]),
                        }
                        for f in found
                    ]
                ),
            },
        )
        return cursor.rowcount


def compare(manifest: dict[str, Any], fired: dict[str, set[str]]) -> dict[str, Any]:
    """Planted found per rule, look-alikes flagged per kind, and findings nobody planted."""
    planted = {
        rule: {"planted": len(ids), "found": sum(rule in fired.get(i, ()) for i in ids)}
        for rule, ids in manifest["planted"].items()
    }
    look_alikes = {
        kind: {
            "licenses": len(entry["licenses"]),
            "flagged": sum(
                bool(set(entry["imitates"]) & fired.get(i, set())) for i in entry["licenses"]
            ),
        }
        for kind, entry in manifest["look_alikes"].items()
    }
    expected = defaultdict(set)
    for rule, ids in manifest["planted"].items():
        for i in ids:
            expected[i].add(rule)
    unplanted = sorted(
        (lic, rule) for lic, rules in fired.items() for rule in rules - expected.get(lic, set())
    )
    return {"planted": planted, "look_alikes": look_alikes, "unplanted": unplanted}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=BENCH / "fleet-manifest.json")
    parser.add_argument("--now", default=None, help="evaluate at this ISO time (default: now)")
    parser.add_argument(
        "--write-cases",
        action="store_true",
        help="stand in for the scan: write one open case per finding, print a JSON summary",
    )
    args = parser.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    started = time.perf_counter()
    if args.write_cases:
        found = findings(manifest["database"], now)
        opened = write_cases(manifest["database"], found, now)
        seconds = round(time.perf_counter() - started, 1)
        print(
            json.dumps(
                {"stand_in": True, "findings": len(found), "opened": opened, "seconds": seconds}
            )
        )
        return 0
    fired = findings_by_license(manifest["database"], now)
    result = compare(manifest, fired)
    seconds = time.perf_counter() - started
    for rule, figures in result["planted"].items():
        print(f"planted {rule:22} {figures['found']:>5} / {figures['planted']} found")
    for kind, figures in result["look_alikes"].items():
        print(f"look-alike {kind:30} {figures['flagged']:>3} / {figures['licenses']} flagged")
    print(f"unplanted findings: {len(result['unplanted'])} {result['unplanted'][:5]}")
    print(f"evaluated in {seconds:.1f} s (reference, not the scan)")
    ok = all(f["found"] == f["planted"] for f in result["planted"].values()) and not any(
        f["flagged"] for f in result["look_alikes"].values()
    )
    return 0 if ok and not result["unplanted"] else 1


if __name__ == "__main__":
    sys.exit(main())
