"""``licensing demo``: a product, releases, an edition, a customer and a license to try."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from licensing.cli import records
from licensing.cli.context import actor, runtime, session, uses_database
from licensing.cli.output import emit_record, json_option
from licensing.errors import NotFound
from licensing.models import Product
from licensing.services import catalog, customers, licenses, server_keys
from licensing.services.catalog import EditionPolicy
from licensing.timeutil import utcnow

PRODUCT, EDITION, EMAIL = "demo-mailserver", "standard", "demo-customer@example.com"
# (version, days before today): one release outside a new license's protection window
# would need an old license, so these are all covered by a license issued today.
RELEASES = (("1.0.0", 400), ("2.0.0", 120), ("2.1.0", 14))
T = TypeVar("T")


@click.command("demo")
@json_option
@with_appcontext
@uses_database
def demo(as_json: bool) -> None:
    """Seed demo data (once) and issue a fresh demo license; print its key."""
    db = session()
    sealer = runtime().sealer
    server_keys.ensure_active_key(db, sealer, actor=actor())
    product = _demo_product(db)
    edition = _existing(lambda: catalog.get_edition(db, PRODUCT, EDITION)) or catalog.add_edition(
        db,
        product_code=PRODUCT,
        code=EDITION,
        name="Standard (per server)",
        policy=EditionPolicy(max_activations=1, entitlements=("smtp", "imap", "webmail")),
        actor=actor(),
    )
    customer = _existing(lambda: customers.get_customer(db, EMAIL)) or customers.add_customer(
        db, name="Demo Customer", email=EMAIL, company="Example Ltd", actor=actor()
    )
    issued = licenses.issue(
        db, sealer, product=product, edition=edition, customer=customer, actor=actor()
    )
    record = records.license(issued.license, activations_used=0)
    record["license_key"] = issued.key.display
    emit_record(record, as_json=as_json)


def _existing(find: Callable[[], T]) -> T | None:
    """What ``find`` finds, or None where it finds nothing."""
    try:
        return find()
    except NotFound:
        return None


def _demo_product(db: Session) -> Product:
    existing = _existing(lambda: catalog.get_product(db, PRODUCT))
    if existing is not None:
        return existing
    product = catalog.add_product(db, code=PRODUCT, name="Demo Mail Server", actor=actor())
    now = utcnow()
    for version, days_ago in RELEASES:
        catalog.add_release(
            db,
            product_code=PRODUCT,
            version=version,
            released_at=now - timedelta(days=days_ago),
            actor=actor(),
        )
    return product
