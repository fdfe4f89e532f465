"""``licensing demo``: demo catalog and customer once, a fresh license every run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.models import Customer, Edition, License, Product, Release, ServerKey
from tests.functional.cli.invoke import Licensing, fields
from tests.functional.cli.test_errors import describe, run, without_traceback


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_demo_json_issues_a_demo_license(licensing: Licensing, session: Session) -> None:
    demo = licensing.json("demo")

    assert (demo["product"], demo["edition"], demo["status"]) == (
        "demo-mailserver",
        "standard",
        "active",
    )
    key = license_keys.parse(demo["license_key"])
    assert demo["key_id"] == key.key_id
    license = session.get(License, uuid.UUID(demo["id"]))
    assert license is not None
    assert license.customer.email == "demo-customer@example.com"
    releases = session.scalars(select(Release.version).order_by(Release.released_at)).all()
    assert releases == ["1.0.0", "2.0.0", "2.1.0"]
    assert count(session, ServerKey) == 1  # the server can sign for it straight away


def test_demo_twice_reuses_the_catalog_and_issues_a_second_license(
    licensing: Licensing, session: Session
) -> None:
    first = licensing.json("demo")
    second = fields(licensing.ok("demo"))

    assert second["id"] != first["id"]
    assert second["license_key"] != first["license_key"]
    assert license_keys.parse(second["license_key"]).key_id == second["key_id"]
    assert second["customer_id"] == first["customer_id"]
    assert (second["product"], second["edition"]) == ("demo-mailserver", "standard")
    assert [count(session, model) for model in (Product, Edition, Customer, Release)] == [
        1,
        1,
        1,
        3,
    ]
    assert count(session, License) == 2
    assert count(session, ServerKey) == 1


def test_what_demo_creates_is_audited_in_an_intact_chain(licensing: Licensing) -> None:
    licensing.json("demo")
    licensing.json("demo")

    verified = licensing.json("audit", "verify")
    # A signing key, a product, three releases, an edition and a customer once; a
    # license each run.
    assert (verified["intact"], verified["events"]) == (True, 9)
    actions = [event["action"] for event in licensing.json("audit", "list")]
    for action in ("product.added", "release.added", "edition.added", "customer.added"):
        assert action in actions


def test_demo_on_a_fresh_instance_prints_only_its_output(tmp_path: Path) -> None:
    """The embedded database is created on this first use; its migrations say nothing."""
    completed = without_traceback(run(tmp_path, "demo", "--json"))

    assert completed.returncode == 0, describe(completed)
    assert json.loads(completed.stdout)["product"] == "demo-mailserver"
    assert "alembic" not in completed.stderr
    assert "Running upgrade" not in completed.stderr


def test_the_automatic_migration_narrates_at_debug_level(tmp_path: Path) -> None:
    completed = without_traceback(
        run(tmp_path, "demo", "--json", env={"LICENSING_LOG_LEVEL": "DEBUG"})
    )

    assert completed.returncode == 0, describe(completed)
    assert json.loads(completed.stdout)["product"] == "demo-mailserver"
    assert "Running upgrade" in completed.stderr
