"""``licensing product|release|edition``: adding to and listing the catalog."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import Edition, Product, Release
from tests.factories import latest_event, make_edition, make_product, make_release
from tests.functional.cli.invoke import Licensing, fields, table


def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def test_product_add_prints_the_product(licensing: Licensing, session: Session) -> None:
    record = fields(licensing.ok("product", "add", "mailserver", "--name", "Mail Server"))

    product = session.scalar(select(Product).where(Product.code == "mailserver"))
    assert product is not None
    assert record == {
        "id": str(product.id),
        "code": "mailserver",
        "name": "Mail Server",
        "created_at": record["created_at"],
    }
    assert abs(parse_time(record["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    event = latest_event(session)
    assert (event.action, event.subject_id) == ("product.added", str(product.id))
    assert event.actor.startswith("cli:")


def test_product_add_json(licensing: Licensing, session: Session) -> None:
    added = licensing.json("product", "add", "mailserver", "--name", "  Mail Server ")

    assert set(added) == {"id", "code", "name", "created_at"}
    assert (added["code"], added["name"]) == ("mailserver", "Mail Server")
    product = session.get(Product, uuid.UUID(added["id"]))
    assert product is not None
    assert product.code == "mailserver"
    parse_time(added["created_at"])


def test_product_list(licensing: Licensing, session: Session) -> None:
    assert licensing.ok("product", "list").strip() == "(none)"
    assert licensing.json("product", "list") == []

    make_product(session, code="zeta", name="Zeta Suite")
    make_product(session, code="alpha", name="Alpha Server")

    rows = table(licensing.ok("product", "list"))
    assert [(row["code"], row["name"]) for row in rows] == [
        ("alpha", "Alpha Server"),
        ("zeta", "Zeta Suite"),
    ]
    listed = licensing.json("product", "list")
    assert [p["code"] for p in listed] == ["alpha", "zeta"]
    assert set(listed[0]) == {"id", "code", "name", "created_at"}


def test_release_add_normalises_the_version_and_takes_a_date(
    licensing: Licensing, session: Session
) -> None:
    make_product(session, code="mailserver")

    record = fields(
        licensing.ok("release", "add", "mailserver", "v3.2.0-rc.1", "--date", "2026-09-01")
    )

    assert record == {
        "product": "mailserver",
        "version": "3.2.0rc1",
        "released_at": "2026-09-01T00:00:00Z",
    }
    stored = session.scalar(select(Release).where(Release.version == "3.2.0rc1"))
    assert stored is not None
    assert stored.released_at == datetime(2026, 9, 1, tzinfo=UTC)
    assert latest_event(session).data == {"product": "mailserver", "version": "3.2.0rc1"}


def test_release_add_json_with_a_zoned_timestamp(licensing: Licensing, session: Session) -> None:
    make_product(session, code="mailserver")

    added = licensing.json(
        "release", "add", "mailserver", "2.1", "--date", "2026-03-15T12:30:00+02:00"
    )

    assert added == {
        "product": "mailserver",
        "version": "2.1",
        "released_at": "2026-03-15T10:30:00Z",
    }


def test_release_add_defaults_to_now(licensing: Licensing, session: Session) -> None:
    make_product(session, code="mailserver")

    added = licensing.json("release", "add", "mailserver", "1.0.0")

    assert added["version"] == "1.0.0"
    assert abs(parse_time(added["released_at"]) - datetime.now(UTC)) < timedelta(minutes=1)


def test_release_list_is_oldest_first(licensing: Licensing, session: Session) -> None:
    product = make_product(session, code="mailserver")
    make_release(
        session, product=product, version="2.0.0", released_at=datetime(2025, 6, 1, tzinfo=UTC)
    )
    make_release(
        session, product=product, version="1.0.0", released_at=datetime(2024, 1, 2, tzinfo=UTC)
    )
    make_release(session, version="9.9.9")  # another product's

    rows = table(licensing.ok("release", "list", "mailserver"))
    assert rows == [
        {"product": "mailserver", "version": "1.0.0", "released_at": "2024-01-02T00:00:00Z"},
        {"product": "mailserver", "version": "2.0.0", "released_at": "2025-06-01T00:00:00Z"},
    ]
    assert licensing.json("release", "list", "mailserver") == rows


def test_release_list_of_a_product_without_releases(licensing: Licensing, session: Session) -> None:
    make_product(session, code="mailserver")

    assert licensing.ok("release", "list", "mailserver").strip() == "(none)"
    assert licensing.json("release", "list", "mailserver") == []


def test_edition_add_with_every_policy_option(licensing: Licensing, session: Session) -> None:
    make_product(session, code="mailserver")

    added = licensing.json(
        "edition", "add", "mailserver", "cluster",
        "--name", "Cluster (three servers)",
        "--max-activations", "3",
        "--migration-window-days", "14",
        "--migration-allowance", "2",
        "--check-in-interval-hours", "6",
        "--dead-after-intervals", "4",
        "--offline-grace-days", "10",
        "--entitlement", "smtp",
        "--entitlement", "imap",
        "--entitlement", "smtp",
        "--term-days", "365",
        "--upgrade-protection-months", "24",
    )  # fmt: skip

    assert added == {
        "product": "mailserver",
        "code": "cluster",
        "name": "Cluster (three servers)",
        "max_activations": 3,
        "migration_window_days": 14,
        "migration_allowance": 2,
        "check_in_interval_hours": 6.0,
        "dead_after_intervals": 4,
        "offline_grace_days": 10,
        "entitlements": ["smtp", "imap"],
        "term_days": 365,
        "upgrade_protection_months": 24,
    }
    edition = session.scalar(select(Edition).where(Edition.code == "cluster"))
    assert edition is not None
    assert edition.check_in_interval_seconds == 6 * 3600
    assert edition.entitlements == ["smtp", "imap"]
    assert latest_event(session).action == "edition.added"


def test_edition_add_defaults(licensing: Licensing, session: Session) -> None:
    make_product(session, code="mailserver")

    record = fields(licensing.ok("edition", "add", "mailserver", "standard"))

    assert record == {
        "product": "mailserver",
        "code": "standard",
        "name": "standard",
        "max_activations": "1",
        "migration_window_days": "30",
        "migration_allowance": "1",
        "check_in_interval_hours": "24.0",
        "dead_after_intervals": "3",
        "offline_grace_days": "7",
        "entitlements": "-",
        "term_days": "-",
        "upgrade_protection_months": "12",
    }


def test_edition_list(licensing: Licensing, session: Session) -> None:
    product = make_product(session, code="mailserver")
    make_edition(session, product=product, code="standard", entitlements=("smtp", "imap"))
    make_edition(session, product=product, code="business", max_activations=5, term_days=365)
    make_edition(session, code="elsewhere")

    rows = table(licensing.ok("edition", "list", "mailserver"))
    assert rows == [
        {
            "product": "mailserver",
            "code": "business",
            "max_activations": "5",
            "term_days": "365",
            "upgrade_protection_months": "12",
            "entitlements": "-",
        },
        {
            "product": "mailserver",
            "code": "standard",
            "max_activations": "1",
            "term_days": "-",
            "upgrade_protection_months": "12",
            "entitlements": "smtp,imap",
        },
    ]
    listed = licensing.json("edition", "list", "mailserver")
    assert [(e["code"], e["entitlements"], e["term_days"]) for e in listed] == [
        ("business", [], 365),
        ("standard", ["smtp", "imap"], None),
    ]
