"""The fleet generator (bench/fleet.py) at a tiny scale, so it cannot rot unnoticed.

The rows it reports are the rows in the database; the planted patterns fire their rules
and the look-alikes stay quiet under the default thresholds (through the pure rules, as
bench/fleet_rules.py evaluates them); one more day of check-ins adds what it says.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from licensing.crypto import license_keys
from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fleet  # noqa: E402
import fleet_rules  # noqa: E402
from fleet_load import TABLES, libpq_url  # noqa: E402

NOW = "2026-11-20T12:00:00+00:00"

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: the fleet is bulk-loaded with PostgreSQL's COPY",
    ),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    folder = tmp_path_factory.mktemp("fleet")
    with fresh_postgresql_database(os.environ[TEST_DATABASE_ENV].strip(), label="fleet_") as url:
        argv = [
            *("--url", url, "--scale", "0.003", "--planted", "2", "--now", NOW),
            *("--instance", str(folder / "instance"), "--keep-database"),
            *("--manifest", str(folder / "manifest.json"), "--keys", str(folder / "keys.json")),
        ]
        assert fleet.main(argv) == 0
        yield json.loads((folder / "manifest.json").read_text()), folder


def rows(url: str, table: str) -> int:
    with psycopg.connect(libpq_url(url)) as connection:
        found = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert found is not None
    return int(found[0])


def test_the_manifest_counts_the_rows_in_the_database(generated: tuple[dict[str, Any], Path]):
    manifest, _ = generated
    counts = manifest["counts"]
    assert set(counts) == set(TABLES)
    assert {table: rows(manifest["database"], table) for table in TABLES} == counts
    assert counts["licenses"] == 300
    assert counts["activations"] == 450
    assert counts["usage_observations"] == 9_000


def test_every_kind_is_planted_as_often_as_asked(generated: tuple[dict[str, Any], Path]):
    manifest, _ = generated
    assert all(len(ids) == 2 for ids in manifest["planted_by_kind"].values())
    assert len(manifest["planted_by_kind"]) == 10
    assert all(len(kind["licenses"]) == 2 for kind in manifest["look_alikes"].values())
    assert len(manifest["look_alikes"]) == 9
    assert len(manifest["planted"]["CLONED_INSTANCE"]) == 4  # by networks and by leases


def test_planted_patterns_fire_and_look_alikes_stay_quiet(generated: tuple[dict[str, Any], Path]):
    manifest, _ = generated
    fired = fleet_rules.findings_by_license(manifest["database"], fleet._moment(manifest["now"]))
    result = fleet_rules.compare(manifest, fired)
    assert {rule: f["found"] for rule, f in result["planted"].items()} == {
        rule: len(ids) for rule, ids in manifest["planted"].items()
    }
    assert {kind: f["flagged"] for kind, f in result["look_alikes"].items()} == dict.fromkeys(
        manifest["look_alikes"], 0
    )
    assert result["unplanted"] == []


def test_the_keys_file_holds_working_keys_of_the_check_in_licenses(
    generated: tuple[dict[str, Any], Path],
):
    manifest, folder = generated
    keys_file = folder / "keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    entries = json.loads(keys_file.read_text())
    assert [e["license_id"] for e in entries] == manifest["check_in_licenses"]
    with psycopg.connect(libpq_url(manifest["database"])) as connection:
        for entry in entries:
            assert license_keys.parse(entry["key"]).key_id == entry["key_id"]
            found = connection.execute(
                "SELECT l.key_id FROM licenses l JOIN activations a ON a.license_id = l.id"
                " WHERE l.id = %s AND a.fingerprint = %s AND a.status = 'active'",
                (entry["license_id"], entry["fingerprint"]),
            ).fetchone()
            assert found == (entry["key_id"],)


def test_one_more_day_adds_the_check_ins_it_reports(generated: tuple[dict[str, Any], Path]):
    manifest, folder = generated
    url = manifest["database"]
    before = rows(url, "usage_observations")
    argv = ["--one-day", "--now", "2026-11-21T12:00:00+00:00"]
    assert fleet.main([*argv, "--manifest", str(folder / "manifest.json")]) == 0
    day = json.loads((folder / "manifest.json").read_text())["one_days"][-1]
    assert day["check_ins"] == 300  # 100,000 x 0.003
    assert day["rows_inserted"] + day["rows_updated"] == day["check_ins"]
    assert 0 < day["with_news"] <= day["rows_inserted"]  # a new value is a new row
    assert rows(url, "usage_observations") == before + day["rows_inserted"]
    assert day["activations_touched"] == day["check_ins"]
    with psycopg.connect(libpq_url(url)) as connection:
        touched = connection.execute(
            "SELECT count(*) FROM activations WHERE last_check_in_at > %s", (NOW,)
        ).fetchone()
    assert touched == (day["check_ins"],)


def test_one_more_day_after_a_scan_is_news_to_the_next_scan(
    generated: tuple[dict[str, Any], Path],
):
    manifest, folder = generated
    url = manifest["database"]
    watermark = "2026-11-22T11:00:00+00:00"
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "INSERT INTO misuse_scan_state (name, scanned_until) VALUES ('bench', %s)",
            (watermark,),
        )
    argv = ["--one-day", "--now", "2026-11-22T12:00:00+00:00"]
    assert fleet.main([*argv, "--manifest", str(folder / "manifest.json")]) == 0
    day = json.loads((folder / "manifest.json").read_text())["one_days"][-1]
    assert fleet._moment(day["from"]) == fleet._moment(watermark)
    with psycopg.connect(libpq_url(url)) as connection:
        after = connection.execute(
            "SELECT count(*) FROM activations WHERE last_check_in_at > %s", (watermark,)
        ).fetchone()
    assert after == (day["check_ins"],)
    # The day leaves the manifest true.
    result = fleet_rules.compare(
        manifest, fleet_rules.findings_by_license(url, fleet._moment("2026-11-22T12:00:00"))
    )
    assert all(f["found"] == f["planted"] for f in result["planted"].values())
    assert not any(f["flagged"] for f in result["look_alikes"].values())
    assert result["unplanted"] == []
