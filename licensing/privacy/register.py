"""The register of processing, per column: every table and column of the schema, classified.

Nothing is implicit: a key, a flag or a counter is declared ``NOT_PERSONAL`` as
explicitly as an e-mail address is declared contact data, so a column added to a model
without a decision here is caught by ``unclassified`` (tests/unit/privacy) before it can
escape retention, export and erasure, which all read this register.

Classification is by what a column holds by itself. Keys that only link a row to a
license or an activation are not personal; the columns that name, single out or describe
a person are, and their category says how long they are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from licensing.privacy.categories import Category, CategoryCode, RetentionPeriods, categories


class Kind(StrEnum):
    """What kind of personal data a column holds."""

    IDENTIFIER = "identifier"  # singles a person out: a license key id, a device fingerprint
    NAME = "name"
    CONTACT = "contact"  # an e-mail address
    ORGANISATION = "organisation"
    NETWORK_ADDRESS = "network address"  # a raw IP address
    NETWORK_PREFIX = "network prefix"  # the /24 or /48 kept after pseudonymisation
    HOST_NAME = "host name"
    KEYED_HASH = "keyed hash"  # HMAC of an IP or a server name under a key of the key store
    CREDENTIAL = "credential"  # a sealed license key, a password hash
    STAFF_REFERENCE = "staff reference"  # who acted: a staff account or an operator's login
    FREE_TEXT = "free text written by staff"  # reasons and notes: may name anyone
    EVIDENCE = "misuse evidence"  # findings of the rules: counts, networks, hashes
    USAGE_COUNTERS = "usage counters"  # what the installed product reports of its use
    DISCLOSURE_RECORD = "disclosure record"  # which fields of a license a partner was told


@dataclass(frozen=True, slots=True)
class Classification:
    category: CategoryCode
    kind: Kind | None  # None for NOT_PERSONAL


@dataclass(frozen=True, slots=True)
class ClassifiedColumn:
    table: str
    column: str
    category: CategoryCode
    kind: Kind | None


class UnclassifiedColumn(LookupError):
    """A column the register has no decision for."""


NOT_PERSONAL = Classification(CategoryCode.NOT_PERSONAL, None)


def _not_personal(*columns: str) -> dict[str, Classification]:
    return dict.fromkeys(columns, NOT_PERSONAL)


def _as(category: CategoryCode, kind: Kind) -> Classification:
    return Classification(category, kind)


_CUSTOMER = CategoryCode.LICENSE_AND_CUSTOMER
_RAW = CategoryCode.RAW_USAGE
_PSEUDONYMISED = CategoryCode.PSEUDONYMISED_USAGE
_DISCLOSURES = CategoryCode.PARTNER_DISCLOSURES
_MISUSE = CategoryCode.MISUSE_EVIDENCE
_AUDIT = CategoryCode.AUDIT_EVENTS
_STAFF = CategoryCode.STAFF_ACCOUNTS

# table -> column -> classification, for every column of licensing.models.Base.metadata.
COLUMNS: Mapping[str, Mapping[str, Classification]] = {
    "activations": {
        **_not_personal(
            "id",
            "license_id",
            "product_version",
            "platform",
            "status",
            "activated_at",
            "last_check_in_at",
            "released_at",
            "release_reason",
            "migration_until",
            "lease_jti",
        ),
        # A fingerprint tells one installed server from another, as its name does.
        "fingerprint": _as(_RAW, Kind.IDENTIFIER),
        "server_name": _as(_RAW, Kind.HOST_NAME),
    },
    "approval_requests": {
        **_not_personal("id", "action", "subject_id", "requested_at", "status", "decided_at"),
        "reason": _as(_AUDIT, Kind.FREE_TEXT),
        "requested_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
        "decided_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
        "decision_note": _as(_AUDIT, Kind.FREE_TEXT),
    },
    "audit_events": {
        **_not_personal(
            "seq", "occurred_at", "action", "subject_type", "subject_id", "prev_hash", "hash"
        ),
        # "staff:<id>" or "cli:<operating-system login>".
        "actor": _as(_AUDIT, Kind.STAFF_REFERENCE),
        # Reasons typed by staff (suspend, revoke, release a seat, reveal, four eyes).
        "data": _as(_AUDIT, Kind.FREE_TEXT),
    },
    # Where the chain begins after retention pruned its oldest events: a seq, a hash, a
    # count and the server's signature over them, nothing about anyone.
    "audit_prune_anchors": _not_personal("seq", "hash", "events", "pruned_at", "kid", "token"),
    "customers": {
        **_not_personal("id", "created_at", "anonymised_at"),
        "name": _as(_CUSTOMER, Kind.NAME),
        "email": _as(_CUSTOMER, Kind.CONTACT),
        "company": _as(_CUSTOMER, Kind.ORGANISATION),
    },
    "disclosures": {
        **_not_personal(
            "id", "partner_id", "partner_key_id", "purpose", "request_id", "disclosed_at"
        ),
        # The row is the record that a partner was told about this license.
        "license_id": _as(_DISCLOSURES, Kind.IDENTIFIER),
        "fields": _as(_DISCLOSURES, Kind.DISCLOSURE_RECORD),
        "details": _as(_DISCLOSURES, Kind.DISCLOSURE_RECORD),
    },
    "editions": _not_personal(
        "id",
        "product_id",
        "code",
        "name",
        "max_activations",
        "migration_window_days",
        "migration_allowance",
        "check_in_interval_seconds",
        "dead_after_intervals",
        "offline_grace_days",
        "entitlements",
        "term_days",
        "upgrade_protection_months",
        "created_at",
    ),
    # The keyed-hash keys themselves: destroying them is what unlinks old hashes (item 3).
    "hash_keys": _not_personal("purpose", "period", "sealed_key", "created_at"),
    # A hold's matter and reason are typed by staff; who placed and released it is named.
    "legal_holds": {
        **_not_personal(
            "id",
            "scope",
            "license_id",
            "customer_id",
            "review_on",
            "placed_at",
            "case_id",
            "released_at",
        ),
        "matter": _as(_AUDIT, Kind.FREE_TEXT),
        "reason": _as(_AUDIT, Kind.FREE_TEXT),
        "release_reason": _as(_AUDIT, Kind.FREE_TEXT),
        "placed_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
        "released_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
    },
    "lease_presentations": {
        **_not_personal(
            "id", "license_id", "activation_id", "presented_jti", "newest_jti", "issued_jti", "at"
        ),
        "ip_prefix": _as(_MISUSE, Kind.NETWORK_PREFIX),
        "ip_hash": _as(_MISUSE, Kind.KEYED_HASH),
    },
    "licenses": {
        **_not_personal(
            "id",
            "product_id",
            "edition_id",
            "customer_id",
            "selling_partner_id",
            "status",
            "status_changed_at",
            "issued_at",
            "expires_at",
            "upgrade_protection_until",
            "max_activations_override",
            "processing_restricted",
            "created_at",
        ),
        # The key is the customer's: its id and hint find the customer, the key opens it.
        "key_id": _as(_CUSTOMER, Kind.IDENTIFIER),
        "key_hint": _as(_CUSTOMER, Kind.IDENTIFIER),
        "sealed_key": _as(_CUSTOMER, Kind.CREDENTIAL),
        "status_reason": _as(_CUSTOMER, Kind.FREE_TEXT),
    },
    "misuse_case_events": {
        **_not_personal("id", "case_id", "at", "kind"),
        "actor": _as(_MISUSE, Kind.STAFF_REFERENCE),
        # Notes and decision reasons typed by staff, and the evidence as it grew.
        "detail": _as(_MISUSE, Kind.FREE_TEXT),
    },
    "misuse_cases": {
        **_not_personal(
            "id",
            "license_id",
            "rule",
            "severity",
            "status",
            "first_seen",
            "last_seen",
            "opened_at",
            "updated_at",
            "decided_at",
            "escalation_step",
            "escalated_at",
        ),
        "summary": _as(_MISUSE, Kind.EVIDENCE),
        "evidence": _as(_MISUSE, Kind.EVIDENCE),
        "decided_evidence": _as(_MISUSE, Kind.EVIDENCE),
        "assignee": _as(_MISUSE, Kind.STAFF_REFERENCE),
        "decided_by": _as(_MISUSE, Kind.STAFF_REFERENCE),
        "decision_reason": _as(_MISUSE, Kind.FREE_TEXT),
    },
    "misuse_exceptions": {
        **_not_personal("id", "license_id", "rule", "kind", "declared_at", "ends_at", "ended_at"),
        "reason": _as(_MISUSE, Kind.FREE_TEXT),
        "declared_by": _as(_MISUSE, Kind.STAFF_REFERENCE),
        "ended_by": _as(_MISUSE, Kind.STAFF_REFERENCE),
        "covered_evidence": _as(_MISUSE, Kind.EVIDENCE),
    },
    "misuse_scan_state": _not_personal("name", "scanned_until", "full_scan_at"),
    "partner_keys": _not_personal(
        "id",
        "partner_id",
        "key_id",
        "digest",
        "label",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ),
    "partner_products": _not_personal("partner_id", "product_id", "created_at"),
    # Partners are companies; no contact person is stored.
    "partners": _not_personal(
        "id", "name", "kind", "status", "allowed_networks", "rate_limit", "created_at"
    ),
    # The record that a right was exercised and answered (GDPR Art. 5(2), 12): the
    # subject is named only by the customer id; the outcome holds counts, not values.
    "privacy_requests": {
        **_not_personal(
            "id",
            "kind",
            "customer_id",
            "received_at",
            "due_at",
            "status",
            "recorded_at",
            "closed_at",
        ),
        "identity_verification": _as(_AUDIT, Kind.FREE_TEXT),
        "outcome": _as(_AUDIT, Kind.FREE_TEXT),
        "recorded_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
        "closed_by": _as(_AUDIT, Kind.STAFF_REFERENCE),
    },
    "products": _not_personal("id", "code", "name", "created_at"),
    "rate_limit_counters": {
        **_not_personal("hits", "expires_at"),
        # A partner key id or a keyed hash of a client address; gone when its window ends.
        "name": _as(_PSEUDONYMISED, Kind.KEYED_HASH),
    },
    "releases": _not_personal("id", "product_id", "version", "released_at", "created_at"),
    "replay_nonces": {
        **_not_personal("nonce", "expires_at"),
        # A license key id, kept for the replay window only (minutes).
        "key_id": _as(_RAW, Kind.IDENTIFIER),
    },
    "server_keys": _not_personal(
        "kid", "public_key", "sealed_private_key", "created_at", "retired_at", "publish_until"
    ),
    "signature_failures": {
        **_not_personal("bucket_start", "count"),
        "key_id": _as(_MISUSE, Kind.IDENTIFIER),
    },
    "staff_users": {
        **_not_personal(
            "id",
            "role",
            "disabled_at",
            "failed_logins",
            "locked_until",
            "password_changed_at",
            "sessions_valid_after",
            "created_at",
            "last_login_at",
            "anonymised_at",
        ),
        "email": _as(_STAFF, Kind.CONTACT),
        "display_name": _as(_STAFF, Kind.NAME),
        "password_hash": _as(_STAFF, Kind.CREDENTIAL),
    },
    # Fleet-wide counts per day: no license, activation, address or server name.
    "usage_days": _not_personal("day", "check_ins", "active_instances", "computed_at"),
    "usage_observations": {
        **_not_personal(
            "id",
            "activation_id",
            "license_id",
            "day",
            "product_version",
            "count",
            "first_seen",
            "last_seen",
            "pseudonymised_at",
        ),
        "ip": _as(_RAW, Kind.NETWORK_ADDRESS),
        "server_name": _as(_RAW, Kind.HOST_NAME),
        "ip_hash": _as(_PSEUDONYMISED, Kind.KEYED_HASH),
        "ip_prefix": _as(_PSEUDONYMISED, Kind.NETWORK_PREFIX),
        "server_name_hash": _as(_PSEUDONYMISED, Kind.KEYED_HASH),
        # A keyed digest of (IP, server name, version): stays when the raw values go.
        "observation_key": _as(_PSEUDONYMISED, Kind.KEYED_HASH),
        "usage": _as(_PSEUDONYMISED, Kind.USAGE_COUNTERS),
    },
}


class _Column(Protocol):
    @property
    def name(self) -> str: ...


class _Table(Protocol):
    @property
    def columns(self) -> Iterable[_Column]: ...


class SchemaLike(Protocol):
    """What is read of a schema: SQLAlchemy's ``MetaData`` fits, and this module stays
    free of the database layer."""

    @property
    def tables(self) -> Mapping[str, _Table]: ...


def classify(table: str, column: str) -> Classification:
    """The register's decision for ``table.column``; UnclassifiedColumn if it has none."""
    try:
        return COLUMNS[table][column]
    except KeyError:
        raise UnclassifiedColumn(f"{table}.{column} is not in the register") from None


def unclassified(metadata: SchemaLike) -> list[tuple[str, str]]:
    """Every (table, column) of ``metadata`` the register has no decision for, sorted."""
    return sorted(
        (name, column.name)
        for name, table in metadata.tables.items()
        for column in table.columns
        if column.name not in COLUMNS.get(name, {})
    )


def columns_of(code: CategoryCode) -> list[ClassifiedColumn]:
    """The columns a category covers, by table and column name."""
    return [
        ClassifiedColumn(table, column, entry.category, entry.kind)
        for table, entries in sorted(COLUMNS.items())
        for column, entry in sorted(entries.items())
        if entry.category is code
    ]


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One category of the record of processing with the columns it covers."""

    category: Category
    columns: tuple[ClassifiedColumn, ...]

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted({c.table for c in self.columns}))


def record_of_processing(periods: RetentionPeriods) -> tuple[RegisterEntry, ...]:
    """The whole register under ``periods``: what GDPR Art. 30 asks a controller to keep."""
    return tuple(
        RegisterEntry(category=c, columns=tuple(columns_of(c.code))) for c in categories(periods)
    )


def stale(metadata: SchemaLike) -> list[tuple[str, str]]:
    """Every (table, column) the register decides on that ``metadata`` no longer has."""
    present = {
        (name, column.name) for name, table in metadata.tables.items() for column in table.columns
    }
    return sorted(
        (table, column)
        for table, entries in COLUMNS.items()
        for column in entries
        if (table, column) not in present
    )
