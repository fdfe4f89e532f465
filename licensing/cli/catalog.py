"""``licensing product|release|edition``: the catalog."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from licensing.cli import records
from licensing.cli.context import UTC_DATE, actor, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.services import catalog
from licensing.services.catalog import EditionPolicy
from licensing.timeutil import utcnow

product = AppGroup("product", help="Products that licenses are sold for.")
release = AppGroup("release", help="Released versions of a product (drive upgrade eligibility).")
edition = AppGroup("edition", help="Editions: the licensing policy a license is sold under.")


@product.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Display name.")
@json_option
@uses_database
def product_add(code: str, name: str, as_json: bool) -> None:
    """Add a product with a unique CODE (lower-case, e.g. mailserver)."""
    added = catalog.add_product(session(), code=code, name=name, actor=actor())
    emit_record(records.product(added), as_json=as_json)


@product.command("list")
@json_option
@uses_database
def product_list(as_json: bool) -> None:
    """List products."""
    rows = [records.product(p) for p in catalog.list_products(session())]
    emit_records(rows, ["code", "name", "created_at"], as_json=as_json)


@release.command("add")
@click.argument("product_code", metavar="PRODUCT")
@click.argument("version")
@click.option("--date", "released_at", type=UTC_DATE, help="Release date (default: now).")
@json_option
@uses_database
def release_add(
    product_code: str, version: str, released_at: datetime | None, as_json: bool
) -> None:
    """Record that PRODUCT VERSION was released (PEP 440 or semver)."""
    added = catalog.add_release(
        session(),
        product_code=product_code,
        version=version,
        released_at=released_at or utcnow(),
        actor=actor(),
    )
    emit_record(records.release(added.product.code, added), as_json=as_json)


@release.command("list")
@click.argument("product_code", metavar="PRODUCT")
@json_option
@uses_database
def release_list(product_code: str, as_json: bool) -> None:
    """List a product's releases, oldest first."""
    rows = [
        records.release(product_code, r) for r in catalog.list_releases(session(), product_code)
    ]
    emit_records(rows, ["product", "version", "released_at"], as_json=as_json)


@edition.command("add")
@click.argument("product_code", metavar="PRODUCT")
@click.argument("code")
@click.option("--name", default="", help="Display name (default: the code).")
@click.option(
    "--max-activations",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Servers that may be active at once.",
)
@click.option(
    "--migration-window-days",
    default=30,
    show_default=True,
    type=click.IntRange(0, 3650),
    help="Days one extra activation is allowed while moving servers.",
)
@click.option(
    "--migration-allowance",
    default=1,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Extra activations allowed during the migration window.",
)
@click.option(
    "--check-in-interval-hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(1 / 60, 24 * 365),
    help="How often instances call home.",
)
@click.option(
    "--dead-after-intervals",
    default=3,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Silent intervals after which an activation is released.",
)
@click.option(
    "--offline-grace-days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="How long a lease keeps working offline.",
)
@click.option(
    "--entitlement", "entitlements", multiple=True, help="Entitlement code (repeat for several)."
)
@click.option(
    "--term-days",
    type=click.IntRange(1, 36_500),
    default=None,
    help="License term in days (default: perpetual).",
)
@click.option(
    "--upgrade-protection-months",
    default=12,
    show_default=True,
    type=click.IntRange(0, 1200),
    help="Months of upgrade protection a new license gets.",
)
@json_option
@uses_database
def edition_add(
    product_code: str,
    code: str,
    name: str,
    max_activations: int,
    migration_window_days: int,
    migration_allowance: int,
    check_in_interval_hours: float,
    dead_after_intervals: int,
    offline_grace_days: int,
    entitlements: tuple[str, ...],
    term_days: int | None,
    upgrade_protection_months: int,
    as_json: bool,
) -> None:
    """Add edition CODE to PRODUCT with its licensing policy."""
    policy = EditionPolicy(
        max_activations=max_activations,
        migration_window_days=migration_window_days,
        migration_allowance=migration_allowance,
        check_in_interval_seconds=round(check_in_interval_hours * 3600),
        dead_after_intervals=dead_after_intervals,
        offline_grace_days=offline_grace_days,
        entitlements=entitlements,
        term_days=term_days,
        upgrade_protection_months=upgrade_protection_months,
    )
    added = catalog.add_edition(
        session(), product_code=product_code, code=code, name=name, policy=policy, actor=actor()
    )
    emit_record(records.edition(added), as_json=as_json)


@edition.command("list")
@click.argument("product_code", metavar="PRODUCT")
@json_option
@uses_database
def edition_list(product_code: str, as_json: bool) -> None:
    """List a product's editions and their policies."""
    rows = [records.edition(e) for e in catalog.list_editions(session(), product_code)]
    emit_records(
        rows,
        [
            "product",
            "code",
            "max_activations",
            "term_days",
            "upgrade_protection_months",
            "entitlements",
        ],
        as_json=as_json,
    )
