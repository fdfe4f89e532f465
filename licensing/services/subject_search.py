"""Finding a data subject: which customers a query names, and where their data lies.

A data-subject request comes with an e-mail address, a license key, a server name or an
IP address; the answer names the customers it leads to and, per customer, which tables
hold matching rows and how many. Readings and the keyed hashes are those of the staff
search (``staff_search_terms.recognise``, ``privacy/pseudonymise.py``), so usage that
has been pseudonymised is found by its hash. Every search is audited by the kinds of
reading and the hit count, never by the query.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.crypto.sealing import Sealer
from licensing.models import (
    Activation,
    Customer,
    LeasePresentation,
    License,
    UsageObservation,
)
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

SEARCHED_ACTION = "privacy.subject_searched"
# A network or a key hint is shared by many people: it does not single a subject out.
SUBJECT_READINGS = frozenset(
    {
        Matched.KEY_ID,
        Matched.CUSTOMER_EMAIL,
        Matched.CUSTOMER_NAME,
        Matched.SERVER_NAME,
        Matched.IP,
    }
)
MAX_CUSTOMERS = 50


@dataclass(frozen=True, slots=True)
class SubjectMatch:
    """One customer the query leads to, and the tables holding matching rows."""

    customer_id: uuid.UUID
    name: str
    email: str
    company: str | None
    tables: tuple[tuple[str, int], ...]  # (table, matching rows), by table name

    @property
    def rows(self) -> int:
        return sum(count for _, count in self.tables)


@dataclass(frozen=True, slots=True)
class SubjectSearch:
    readings: tuple[Matched, ...]
    subjects: tuple[SubjectMatch, ...]
    truncated: bool


# (table, query of (customer id, matching rows) grouped by customer)
_Query = Select[uuid.UUID, int]
_Counted = tuple[str, _Query]


def search(
    session: Session,
    sealer: Sealer,
    query: str,
    *,
    actor: str,
    now: datetime,
    request_id: uuid.UUID | None = None,
) -> SubjectSearch:
    """The customers ``query`` leads to, read as every kind it fits; audited (on the
    privacy request ``request_id`` when the search serves one)."""
    terms = tuple(t for t in recognise(query) if t.matched in SUBJECT_READINGS)
    per_customer: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for term in terms:
        for table, counted in _counts(session, sealer, term):
            for customer_id, rows in session.execute(counted):
                tables = per_customer[customer_id]
                tables[table] = max(tables.get(table, 0), rows)
    ordered = sorted(per_customer, key=lambda c: (-sum(per_customer[c].values()), str(c)))
    truncated = len(ordered) > MAX_CUSTOMERS
    customers = _customers(session, ordered[:MAX_CUSTOMERS])
    subjects = tuple(
        SubjectMatch(
            customer_id=c.id,
            name=c.name,
            email=c.email,
            company=c.company,
            tables=tuple(sorted(per_customer[c.id].items())),
        )
        for c in customers
    )
    result = SubjectSearch(
        readings=tuple(t.matched for t in terms), subjects=subjects, truncated=truncated
    )
    # Kinds and counts only: the query, even hashed, would make the audit log searchable.
    audit.record(
        session,
        actor=actor,
        action=SEARCHED_ACTION,
        subject_type="privacy_request" if request_id else "privacy",
        subject_id=request_id or "subject-search",
        data={
            "readings": [m.value for m in result.readings],
            "customers": len(subjects),
            "rows": sum(s.rows for s in subjects),
        },
        now=now,
    )
    return result


def _customers(session: Session, ids: Sequence[uuid.UUID]) -> list[Customer]:
    if not ids:
        return []
    found = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _by_customer(
    table: str, joined: Callable[[_Query], _Query], where: ColumnElement[bool]
) -> _Counted:
    return table, joined(select(License.customer_id, func.count())).where(where).group_by(
        License.customer_id
    )


def _usage(query: _Query) -> _Query:
    return query.select_from(UsageObservation).join(
        License, License.id == UsageObservation.license_id
    )


def _presentations(query: _Query) -> _Query:
    return query.select_from(LeasePresentation).join(
        License, License.id == LeasePresentation.license_id
    )


def _activations(query: _Query) -> _Query:
    return query.select_from(Activation).join(License, License.id == Activation.license_id)


def _licenses(query: _Query) -> _Query:
    return query.select_from(License)


def _counts(session: Session, sealer: Sealer, term: Term) -> list[_Counted]:
    value = term.value
    if term.matched is Matched.CUSTOMER_EMAIL:
        return [_customer_rows(func.lower(Customer.email) == value)]
    if term.matched is Matched.CUSTOMER_NAME:
        pattern = "%" + _escape_like(value.lower()) + "%"
        return [_customer_rows(func.lower(Customer.name).like(pattern, escape="\\"))]
    if term.matched is Matched.KEY_ID:
        return [_by_customer("licenses", _licenses, License.key_id == value)]
    if term.matched is Matched.SERVER_NAME:
        stored = server_name_as_stored(value)
        # Under every month's key still held: a destroyed month's hashes match nothing.
        # The spelling as typed is hashed too: usage pseudonymised before check-ins
        # stored one spelling kept the hash of the name as the instance reported it.
        held = stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
        spellings = sorted({value, stored})
        hashes = [h for s in spellings for h in server_name_hashes(sealer, s, held)]
        return [
            _by_customer("activations", _activations, _raw_name_is(Activation.server_name, stored)),
            _by_customer(
                "usage_observations",
                _usage,
                or_(
                    _raw_name_is(UsageObservation.server_name, stored),
                    UsageObservation.server_name_hash.in_(hashes),
                ),
            ),
        ]
    hashed = ip_hashes(sealer, value, stored_period_keys(session, IP_HASH_PURPOSE))
    return [
        _by_customer(
            "usage_observations",
            _usage,
            or_(UsageObservation.ip == value, UsageObservation.ip_hash.in_(hashed)),
        ),
        _by_customer("lease_presentations", _presentations, LeasePresentation.ip_hash.in_(hashed)),
    ]


def _raw_name_is(column: InstrumentedAttribute[str | None], stored: str) -> ColumnElement[bool]:
    """A raw server name equal to ``stored`` whatever its case (rows stored before
    check-ins lower-cased the name keep the instance's spelling)."""
    return func.lower(column) == stored


def _customer_rows(where: ColumnElement[bool]) -> _Counted:
    return "customers", select(Customer.id, func.count()).where(where).group_by(Customer.id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
