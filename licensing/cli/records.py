"""How the CLI shows each kind of record (the same fields in the table and in JSON)."""

from __future__ import annotations

from typing import Any

from licensing.models import (
    Activation,
    Customer,
    Edition,
    License,
    Product,
    Release,
    ServerKey,
)
from licensing.services import seats
from licensing.services.catalog import PublishedRelease
from licensing.timeutil import utcnow


def product(p: Product) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "created_at": p.created_at}


def release(product_code: str, r: Release | PublishedRelease) -> dict[str, Any]:
    return {"product": product_code, "version": r.version, "released_at": r.released_at}


def edition(e: Edition) -> dict[str, Any]:
    return {
        "product": e.product.code,
        "code": e.code,
        "name": e.name,
        "max_activations": e.max_activations,
        "migration_window_days": e.migration_window_days,
        "migration_allowance": e.migration_allowance,
        "check_in_interval_hours": e.check_in_interval_seconds / 3600,
        "dead_after_intervals": e.dead_after_intervals,
        "offline_grace_days": e.offline_grace_days,
        "entitlements": list(e.entitlements),
        "term_days": e.term_days,
        "upgrade_protection_months": e.upgrade_protection_months,
    }


def customer(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "company": c.company,
        "created_at": c.created_at,
    }


def license(lic: License, *, activations_used: int | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": lic.id,
        "key_id": lic.key_id,
        "key_hint": lic.key_hint,
        "product": lic.product.code,
        "edition": lic.edition.code,
        "customer_id": lic.customer_id,
        "status": lic.status,
        "status_reason": lic.status_reason,
        "issued_at": lic.issued_at,
        "expires_at": lic.expires_at,
        "upgrade_protection_until": lic.upgrade_protection_until,
        "processing_restricted": lic.processing_restricted,
    }
    if activations_used is not None:
        record["activations"] = {"used": activations_used, "allowed": seats.allowed(lic)}
    return record


def activation(a: Activation) -> dict[str, Any]:
    return {
        "id": a.id,
        "fingerprint": a.fingerprint,
        "server_name": a.server_name,
        "product_version": a.product_version,
        "platform": a.platform,
        "status": a.status,
        "activated_at": a.activated_at,
        "last_check_in_at": a.last_check_in_at,
        "released_at": a.released_at,
        "release_reason": a.release_reason,
        "migration_until": a.migration_until,
    }


def server_key(k: ServerKey) -> dict[str, Any]:
    now = utcnow()
    state = "active" if k.retired_at is None else ("retired" if k.is_published(now) else "expired")
    return {
        "kid": k.kid,
        "state": state,
        "created_at": k.created_at,
        "retired_at": k.retired_at,
        "published_until": k.publish_until if k.retired_at else None,
    }
