"""Staff search: find licenses by key, customer, server name, IP address or network.

Server names and IP addresses are matched on their keyed hashes (and networks on the
prefix), never on the raw values alone, so usage data that has been pseudonymised is
still found. A hit names the license and what it matched on; it echoes no raw value
beyond the query itself (the console shows the rest masked, or revealed for a reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, Customer, License, UsageObservation
from licensing.privacy.pseudonymise import ip_hash, server_name_hash
from licensing.services.staff_search_terms import Matched, Term, recognise

__all__ = ["Matched", "SearchHit", "SearchResult", "search"]

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
    """The readings the query was tried as, the hits (at most ``limit``), and whether
    there were more."""

    terms: tuple[Term, ...]
    hits: tuple[SearchHit, ...]
    truncated: bool


def search(session: Session, sealer: Sealer, query: str, *, limit: int = 50) -> SearchResult:
    """Licenses matching ``query``, read as every kind it has the shape of."""
    terms = recognise(query)
    found: list[tuple[Matched, _Found]] = []
    for term in terms:
        found.extend((term.matched, row) for row in _find(session, sealer, term, limit + 1))
    truncated = len(found) > limit
    found = found[:limit]
    licenses = _licenses(session, {license_id for _, (license_id, _) in found})
    hits = tuple(
        _hit(licenses[license_id], matched, last_seen) for matched, (license_id, last_seen) in found
    )
    return SearchResult(terms=terms, hits=hits, truncated=truncated)


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
        return _observed(session, UsageObservation.ip_hash == ip_hash(sealer, term.value), limit)
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

    The check-in path hashes the name as reported; host names are case-insensitive, so
    the lower-case spelling is tried too.
    """
    spellings = sorted({name, name.lower()})
    hashes = [server_name_hash(sealer, spelling) for spelling in spellings]
    newest: dict[uuid.UUID, datetime] = {}
    observed = _observed(session, UsageObservation.server_name_hash.in_(hashes), limit)
    activations = session.execute(
        select(Activation.license_id, func.max(Activation.last_check_in_at).label("seen"))
        .where(Activation.server_name.in_(spellings))
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
