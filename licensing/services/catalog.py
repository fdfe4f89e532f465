"""Products, their releases and editions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models import Edition, Product, Release
from licensing.services import audit
from licensing.versions import parse_version

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class EditionPolicy:
    """The licensing policy of an edition; defaults are the product's documented ones."""

    max_activations: int = 1
    migration_window_days: int = 30
    migration_allowance: int = 1
    check_in_interval_seconds: int = 86_400
    dead_after_intervals: int = 3
    offline_grace_days: int = 7
    entitlements: Sequence[str] = field(default_factory=tuple)
    term_days: int | None = None
    upgrade_protection_months: int = 12

    def problems(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        minimums = {
            "max_activations": (self.max_activations, 1),
            "migration_window_days": (self.migration_window_days, 0),
            "migration_allowance": (self.migration_allowance, 0),
            "check_in_interval_seconds": (self.check_in_interval_seconds, 60),
            "dead_after_intervals": (self.dead_after_intervals, 1),
            "offline_grace_days": (self.offline_grace_days, 1),
            "upgrade_protection_months": (self.upgrade_protection_months, 0),
        }
        for name, (value, minimum) in minimums.items():
            if value < minimum:
                found[name] = [f"must be at least {minimum}"]
        if self.term_days is not None and self.term_days < 1:
            found["term_days"] = ["must be at least 1, or absent for a perpetual license"]
        for code in self.entitlements:
            if not _CODE.match(code):
                found.setdefault("entitlements", []).append(f"{code!r} is not a valid code")
        return found


def validate_code(code: str, *, what: str) -> str:
    if not _CODE.match(code):
        raise InvalidRequest(
            f"{what} code {code!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'",
            errors={"code": ["1-64 of a-z 0-9 . _ -, starting with a letter or digit"]},
        )
    return code


def add_product(session: Session, *, code: str, name: str, actor: str) -> Product:
    validate_code(code, what="product")
    if not name.strip():
        raise InvalidRequest("product name must not be empty", errors={"name": ["empty"]})
    if session.scalar(select(Product.id).where(Product.code == code)):
        raise Conflict(f"product {code!r} already exists")
    product = Product(code=code, name=name.strip())
    session.add(product)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="product.added",
        subject_type="product",
        subject_id=product.id,
        data={"code": code},
    )
    return product


def get_product(session: Session, code: str) -> Product:
    product = session.scalar(select(Product).where(Product.code == code))
    if product is None:
        raise NotFound(f"no product with code {code!r}")
    return product


def list_products(session: Session) -> Sequence[Product]:
    return session.scalars(select(Product).order_by(Product.code)).all()


def add_release(
    session: Session, *, product_code: str, version: str, released_at: datetime, actor: str
) -> Release:
    product = get_product(session, product_code)
    normalised = str(parse_version(version))
    existing = session.scalar(
        select(Release.id).where(Release.product_id == product.id, Release.version == normalised)
    )
    if existing:
        raise Conflict(f"{product_code} {normalised} is already released")
    release = Release(product_id=product.id, version=normalised, released_at=released_at)
    session.add(release)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="release.added",
        subject_type="release",
        subject_id=release.id,
        data={"product": product_code, "version": normalised},
    )
    return release


@dataclass(frozen=True, slots=True)
class PublishedRelease:
    """A release as its readers need it: the version as stored and when it came out."""

    version: str
    released_at: datetime


def list_releases(session: Session, product_code: str) -> list[PublishedRelease]:
    return product_releases(session, get_product(session, product_code).id)


def product_releases(session: Session, product_id: uuid.UUID) -> list[PublishedRelease]:
    """A product's releases, oldest first: how every reader of releases reads them.

    Two columns, not whole rows: the verdict reads them on every cache miss and every
    partner check.
    """
    rows = session.execute(
        select(Release.version, Release.released_at)
        .where(Release.product_id == product_id)
        .order_by(Release.released_at)
    )
    return [PublishedRelease(version, released_at) for version, released_at in rows]


def add_edition(
    session: Session,
    *,
    product_code: str,
    code: str,
    name: str,
    policy: EditionPolicy,
    actor: str,
) -> Edition:
    product = get_product(session, product_code)
    validate_code(code, what="edition")
    problems = policy.problems()
    if problems:
        first = next(iter(problems.items()))
        raise InvalidRequest(f"edition {first[0]} {first[1][0]}", errors=problems)
    if session.scalar(
        select(Edition.id).where(Edition.product_id == product.id, Edition.code == code)
    ):
        raise Conflict(f"{product_code} already has an edition {code!r}")
    edition = Edition(
        product_id=product.id,
        code=code,
        name=name.strip() or code,
        max_activations=policy.max_activations,
        migration_window_days=policy.migration_window_days,
        migration_allowance=policy.migration_allowance,
        check_in_interval_seconds=policy.check_in_interval_seconds,
        dead_after_intervals=policy.dead_after_intervals,
        offline_grace_days=policy.offline_grace_days,
        entitlements=list(dict.fromkeys(policy.entitlements)),
        term_days=policy.term_days,
        upgrade_protection_months=policy.upgrade_protection_months,
    )
    session.add(edition)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="edition.added",
        subject_type="edition",
        subject_id=edition.id,
        data={"product": product_code, "code": code},
    )
    return edition


def get_edition(session: Session, product_code: str, code: str) -> Edition:
    product = get_product(session, product_code)
    edition = session.scalar(
        select(Edition).where(Edition.product_id == product.id, Edition.code == code)
    )
    if edition is None:
        raise NotFound(f"product {product_code!r} has no edition {code!r}")
    return edition


def list_editions(session: Session, product_code: str) -> Sequence[Edition]:
    product = get_product(session, product_code)
    return session.scalars(
        select(Edition).where(Edition.product_id == product.id).order_by(Edition.code)
    ).all()
