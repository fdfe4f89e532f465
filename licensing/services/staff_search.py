"""Staff search: find licenses by key, customer, server name, IP address or network.

Server names and IP addresses are matched on their keyed hashes (and networks on the
prefix), never on the raw values alone, so usage data that has been pseudonymised is
still found. Each month hashes under its own key: the value is hashed under every
month's key still held and any matches (a month whose key was destroyed is not found).
A hit names the license and what it matched on; it echoes no raw value beyond the query
itself (the console shows the rest masked, or revealed for a reason).

Reading a query as an IP address or a server name answers whether that exact value was
seen on a license: a viewer, shown a license's network, could try its 254 addresses and
learn the masked one. Those readings run only for analysts and up (who may reveal for a
case), and every search that ran one is audited, by kind and count, never by value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, Customer, License, StaffRole, StaffUser, UsageObservation
from licensing.privacy.pseudonymise import (
    IP_HASH_PURPOSE,
    SERVER_NAME_HASH_PURPOSE,
    ip_hashes,
    server_name_hashes,
)
from licensing.services import audit
from licensing.services.check_ins import server_name_as_stored
from licensing.services.hash_key_periods import stored_period_keys
from licensing.services.staff_search_terms import Matched, Term, recognise

__all__ = ["USAGE_READINGS", "Matched", "SearchHit", "SearchResult", "search"]

# Readings that match a raw value of usage data: for analysts and up, and audited.
USAGE_READINGS = frozenset({Matched.IP, Matched.SERVER_NAME})

# (license id, when the matched value was last seen: None for the license record itself)
_Found = tuple[uuid.UUID, datetime | None]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One license found, and on what: ids and the license's own fields only."""

    license_id: uuid.UUID
    key_id: str
    key_hint: str
    status: str
    customer_id: uuid.UUID
    matched: Matched
    last_seen: datetime | None  # usage matches: the newest observation or check-in matched


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The readings the query was tried as, the hits (at most ``limit``), whether there
    were more, and the readings it fits that the searcher's role may not run."""

    terms: tuple[Term, ...]
    hits: tuple[SearchHit, ...]
    truncated: bool
    withheld: tuple[Term, ...] = ()


def may_search_usage(role: StaffRole) -> bool:
    """Whether ``role`` may find licenses by a raw IP address or server name."""
    return role.includes(StaffRole.ANALYST)


def search(
    session: Session,
    sealer: Sealer,
    query: str,
    *,
    staff: StaffUser,
    now: datetime,
    limit: int = 50,
) -> SearchResult:
    """Licenses matching ``query``, read as every kind it has the shape of that ``staff``
    may run; a search that ran a usage reading is audited."""
    readings = recognise(query)
    allowed = may_search_usage(StaffRole(staff.role))
    terms = tuple(t for t in readings if allowed or t.matched not in USAGE_READINGS)
    withheld = tuple(t for t in readings if t not in terms)
    found: list[tuple[Matched, _Found]] = []
    for term in terms:
        found.extend((term.matched, row) for row in _find(session, sealer, term, limit + 1))
    truncated = len(found) > limit
    found = found[:limit]
    licenses = _licenses(session, {license_id for _, (license_id, _) in found})
    hits = tuple(
        _hit(licenses[license_id], matched, last_seen) for matched, (license_id, last_seen) in found
    )
    result = SearchResult(terms=terms, hits=hits, truncated=truncated, withheld=withheld)
    if any(term.matched in USAGE_READINGS for term in terms):
        _audit_usage_search(session, result, staff=staff, now=now)
    return result


def _audit_usage_search(
    session: Session, result: SearchResult, *, staff: StaffUser, now: datetime
) -> None:
    # Kinds and counts only: the query, even hashed, would let the audit log be searched
    # for an address or a name the way the search itself was.
    audit.record(
        session,
        actor=f"staff:{staff.id}",
        action="staff.searched_usage",
        subject_type="staff",
        subject_id=staff.id,
        data={
            "readings": [term.matched.value for term in result.terms],
            "hits": len(result.hits),
            "usage_hits": sum(hit.matched in USAGE_READINGS for hit in result.hits),
            "truncated": result.truncated,
        },
        now=now,
    )


def _hit(license: License, matched: Matched, last_seen: datetime | None) -> SearchHit:
    return SearchHit(
        license_id=license.id,
        key_id=license.key_id,
        key_hint=license.key_hint,
        status=license.status,
        customer_id=license.customer_id,
        matched=matched,
        last_seen=last_seen,
    )


def _find(session: Session, sealer: Sealer, term: Term, limit: int) -> Sequence[_Found]:
    record_match = _ON_RECORD.get(term.matched)
    if record_match is not None:
        return _licenses_where(session, record_match(term.value), limit)
    if term.matched is Matched.SERVER_NAME:
        return _server_name(session, sealer, term.value, limit)
    if term.matched is Matched.IP:
        held = stored_period_keys(session, IP_HASH_PURPOSE)
        hashes = ip_hashes(sealer, term.value, held)
        return _observed(session, UsageObservation.ip_hash.in_(hashes), limit)
    return _observed(session, UsageObservation.ip_prefix == term.value, limit)


def _name_contains(text: str) -> ColumnElement[bool]:
    pattern = "%" + _escape_like(text.lower()) + "%"
    return func.lower(Customer.name).like(pattern, escape="\\")


# Readings matched on the license record and its customer (no usage data).
_ON_RECORD: dict[Matched, Callable[[str], ColumnElement[bool]]] = {
    Matched.KEY_ID: lambda value: License.key_id == value,
    Matched.KEY_HINT: lambda value: License.key_hint == value,
    # uq_customers_email_lower: addresses are unique and found whatever their case.
    Matched.CUSTOMER_EMAIL: lambda value: func.lower(Customer.email) == value,
    Matched.CUSTOMER_NAME: _name_contains,
}


def _licenses_where(session: Session, where: ColumnElement[bool], limit: int) -> Sequence[_Found]:
    rows = session.execute(
        select(License.id)
        .join(Customer, Customer.id == License.customer_id)
        .where(where)
        .order_by(License.key_id)
        .limit(limit)
    )
    return [(license_id, None) for (license_id,) in rows]


def _server_name(session: Session, sealer: Sealer, name: str, limit: int) -> Sequence[_Found]:
    """By the observations' keyed hash, and by a live or released activation's name.

    Check-ins store and hash the name lower-cased (host names are case-insensitive), so
    the query is too; the spelling as typed is hashed as well, for usage pseudonymised
    before that, whose hash is of the name as the instance reported it.
    """
    stored = server_name_as_stored(name)
    spellings = sorted({name, stored})
    held = stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
    hashes = [h for spelling in spellings for h in server_name_hashes(sealer, spelling, held)]
    newest: dict[uuid.UUID, datetime] = {}
    observed = _observed(session, UsageObservation.server_name_hash.in_(hashes), limit)
    activations = session.execute(
        select(Activation.license_id, func.max(Activation.last_check_in_at).label("seen"))
        # lower(): activations stored before then keep the instance's spelling.
        .where(func.lower(Activation.server_name) == stored)
        .group_by(Activation.license_id)
        .order_by(func.max(Activation.last_check_in_at).desc())
        .limit(limit)
    )
    for license_id, seen in [*observed, *activations]:
        if seen is not None and (license_id not in newest or seen > newest[license_id]):
            newest[license_id] = seen
    ordered = sorted(newest.items(), key=lambda item: item[1], reverse=True)
    return ordered[:limit]


def _observed(session: Session, where: ColumnElement[bool], limit: int) -> Sequence[_Found]:
    """Licenses with usage observations matching ``where``, the most recently seen first."""
    seen = func.max(UsageObservation.last_seen)
    rows = session.execute(
        select(UsageObservation.license_id, seen)
        .where(where)
        .group_by(UsageObservation.license_id)
        .order_by(seen.desc())
        .limit(limit)
    )
    return [(license_id, last_seen) for license_id, last_seen in rows]


def _licenses(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, License]:
    if not ids:
        return {}
    return {
        license.id: license
        for license in session.scalars(select(License).where(License.id.in_(ids)))
    }


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE: its wildcards and the escape escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
