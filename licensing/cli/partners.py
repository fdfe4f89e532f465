"""``licensing partner``: partners, the products they sell, API keys, disclosures."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup

from licensing.cli.context import UTC_DATE, actor, runtime, session, uses_database
from licensing.cli.output import emit_record, emit_records, json_option
from licensing.models import Disclosure, Partner, PartnerKey, PartnerKind, PartnerStatus, Scope
from licensing.services import disclosures, licenses, partners
from licensing.timeutil import utcnow

partner = AppGroup("partner", help="Registered partners (resellers, lease providers).")
products = AppGroup("products", help="Products a partner may ask about.")
key = AppGroup("key", help="Partner API keys (shown once, stored as a digest).")
partner.add_command(products)
partner.add_command(key)
partner_ref = click.argument("reference", metavar="PARTNER")


def _partner(p: Partner) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "status": p.status,
        "products": sorted(link.product.code for link in p.products),
        "allowed_networks": list(p.allowed_networks),
        "rate_limit": p.rate_limit or "(default)",
        "created_at": p.created_at,
    }


def _key(k: PartnerKey) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "label": k.label,
        "scopes": list(k.scopes),
        "state": partners.key_state(k, utcnow()),
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
    }


def _disclosure(d: Disclosure, partner_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "disclosed_at": d.disclosed_at,
        "partner": partner_names.get(d.partner_id),
        "partner_id": d.partner_id,
        "license_id": d.license_id,
        "key_id": d.partner_key_id,
        "purpose": d.purpose,
        "fields": list(d.fields),
        "request_id": d.request_id,
    }


@partner.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice([k.value for k in PartnerKind]))
@click.option("--allow", "networks", multiple=True, help="Allowed network (CIDR); repeatable.")
@click.option("--rate-limit", help="Requests per key, e.g. 120/minute (default: the server's).")
@click.option(
    "--product", "product_codes", multiple=True, help="Register for a product; repeatable."
)
@json_option
@uses_database
def partner_add(
    name: str,
    kind: str,
    networks: tuple[str, ...],
    rate_limit: str | None,
    product_codes: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register a partner."""
    added = partners.add_partner(
        session(),
        name=name,
        kind=kind,
        allowed_networks=networks,
        rate_limit=rate_limit,
        actor=actor(),
    )
    for code in product_codes:
        partners.add_product(session(), added, code, actor=actor())
    emit_record(_partner(added), as_json=as_json)


@partner.command("list")
@json_option
@uses_database
def partner_list(as_json: bool) -> None:
    """List partners."""
    rows = [_partner(p) for p in partners.list_partners(session())]
    emit_records(rows, ["name", "kind", "status", "products", "rate_limit"], as_json=as_json)


@partner.command("show")
@partner_ref
@json_option
@uses_database
def partner_show(reference: str, as_json: bool) -> None:
    """Show a partner (by id or name) with its keys."""
    found = partners.find_partner(session(), reference)
    record = _partner(found)
    record["keys"] = [_key(k) for k in partners.list_keys(session(), found)]
    emit_record(record, as_json=as_json)


@partner.command("suspend")
@partner_ref
@json_option
@uses_database
def partner_suspend(reference: str, as_json: bool) -> None:
    """Suspend a partner: its keys stop working (403) until reinstated."""
    found = partners.set_status(
        session(),
        partners.find_partner(session(), reference),
        PartnerStatus.SUSPENDED,
        actor=actor(),
    )
    emit_record(_partner(found), as_json=as_json)


@partner.command("reinstate")
@partner_ref
@json_option
@uses_database
def partner_reinstate(reference: str, as_json: bool) -> None:
    """Reinstate a suspended partner."""
    found = partners.set_status(
        session(), partners.find_partner(session(), reference), PartnerStatus.ACTIVE, actor=actor()
    )
    emit_record(_partner(found), as_json=as_json)


@products.command("add")
@partner_ref
@click.argument("product_code", metavar="PRODUCT")
@json_option
@uses_database
def products_add(reference: str, product_code: str, as_json: bool) -> None:
    """Register PARTNER for PRODUCT."""
    found = partners.find_partner(session(), reference)
    partners.add_product(session(), found, product_code, actor=actor())
    emit_record(_partner(found), as_json=as_json)


@products.command("remove")
@partner_ref
@click.argument("product_code", metavar="PRODUCT")
@json_option
@uses_database
def products_remove(reference: str, product_code: str, as_json: bool) -> None:
    """Stop PARTNER asking about PRODUCT."""
    found = partners.find_partner(session(), reference)
    partners.remove_product(session(), found, product_code, actor=actor())
    emit_record(_partner(found), as_json=as_json)


@key.command("create")
@partner_ref
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([s.value for s in Scope]),
    help="Repeatable (default: both scopes).",
)
@click.option("--expires", type=UTC_DATE, help="Expiry date (default: none).")
@click.option("--label", help="What the key is for.")
@json_option
@uses_database
def key_create(
    reference: str,
    scopes: tuple[str, ...],
    expires: datetime | None,
    label: str | None,
    as_json: bool,
) -> None:
    """Create an API key; prints it once (it is stored only as a digest)."""
    issued = partners.create_key(
        session(),
        runtime().sealer,
        partners.find_partner(session(), reference),
        scopes=scopes or [s.value for s in Scope],
        expires_at=expires,
        label=label,
        actor=actor(),
    )
    record = _key(issued.key)
    record["api_key"] = issued.token
    emit_record(record, as_json=as_json)


@key.command("list")
@partner_ref
@json_option
@uses_database
def key_list(reference: str, as_json: bool) -> None:
    """List a partner's keys (never their secrets)."""
    rows = [
        _key(k) for k in partners.list_keys(session(), partners.find_partner(session(), reference))
    ]
    emit_records(
        rows, ["key_id", "label", "scopes", "state", "expires_at", "last_used_at"], as_json=as_json
    )


@key.command("revoke")
@click.argument("key_id")
@json_option
@uses_database
def key_revoke(key_id: str, as_json: bool) -> None:
    """Revoke an API key by its key id (the part after lpk_)."""
    emit_record(_key(partners.revoke_key(session(), key_id, actor=actor())), as_json=as_json)


@partner.command("disclosures")
@click.option("--partner", "partner_ref_", help="Only this partner (id or name).")
@click.option("--license", "license_ref", help="Only this license (id, key id or key).")
@click.option("--since", type=UTC_DATE, help="Only disclosures on or after this date.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@uses_database
def partner_disclosures(
    partner_ref_: str | None,
    license_ref: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """What was disclosed to partners about licenses, newest first."""
    db = session()
    names = {p.id: p.name for p in partners.list_partners(db)}
    rows = [
        _disclosure(d, names)
        for d in disclosures.list_disclosures(
            db,
            partner_id=partners.find_partner(db, partner_ref_).id if partner_ref_ else None,
            license_id=licenses.find(db, license_ref).id if license_ref else None,
            since=since,
            limit=limit,
        )
    ]
    emit_records(
        rows, ["disclosed_at", "partner", "license_id", "purpose", "request_id"], as_json=as_json
    )
