"""Typed results of the client's calls, read from verified answers (PROTOCOL.md §4, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from licensing_client.errors import UnexpectedResponseError


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time (``…Z``) as an aware UTC datetime; ``None`` for ``null``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnexpectedResponseError(f"expected an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UnexpectedResponseError(f"expected an RFC 3339 time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise UnexpectedResponseError(f"time without a zone: {value!r}")
    return parsed.astimezone(UTC)


def _required_time(value: object, name: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise UnexpectedResponseError(f"the answer has no {name}")
    return parsed


def _from_timestamp(value: object) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise UnexpectedResponseError(f"expected a NumericDate, got {value!r}")
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class LicenseInfo:
    """The ``license`` object of an answer (no personal data)."""

    id: str
    product: str
    edition: str
    status: str
    expires_at: datetime | None
    upgrade_protection_until: datetime | None
    entitlements: tuple[str, ...]
    activations_used: int
    activations_allowed: int
    migration_until: datetime | None = None

    @classmethod
    def from_json(cls, data: object) -> LicenseInfo:
        if not isinstance(data, Mapping):
            raise UnexpectedResponseError("the answer has no license object")
        try:
            seats = data["activations"]
            return cls(
                id=str(data["id"]),
                product=str(data["product"]),
                edition=str(data["edition"]),
                status=str(data["status"]),
                expires_at=parse_time(data.get("expires_at")),
                upgrade_protection_until=parse_time(data.get("upgrade_protection_until")),
                entitlements=tuple(str(e) for e in data.get("entitlements") or ()),
                activations_used=int(seats["used"]),
                activations_allowed=int(seats["allowed"]),
                migration_until=parse_time(seats.get("migration_until")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponseError(f"the license object is incomplete: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class Lease:
    """A verified lease (PROTOCOL.md §4): the offline proof, valid until ``expires_at``."""

    token: str = field(repr=False)
    claims: Mapping[str, Any] = field(repr=False)
    server_key_id: str
    issuer: str
    license_id: str
    product: str
    activation_id: str
    fingerprint: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    entitlements: tuple[str, ...]
    license_status: str
    license_expires_at: datetime | None
    upgrade_protection_until: datetime | None

    @classmethod
    def from_claims(cls, token: str, kid: str, claims: Mapping[str, Any]) -> Lease:
        try:
            return cls(
                token=token,
                claims=dict(claims),
                server_key_id=kid,
                issuer=str(claims["iss"]),
                license_id=str(claims["sub"]),
                product=str(claims["aud"]),
                activation_id=str(claims["act"]),
                fingerprint=str(claims["fpr"]),
                issued_at=_from_timestamp(claims["iat"]),
                not_before=_from_timestamp(claims["nbf"]),
                expires_at=_from_timestamp(claims["exp"]),
                entitlements=tuple(str(e) for e in claims.get("ent") or ()),
                license_status=str(claims.get("lst", "")),
                license_expires_at=parse_time(claims.get("lexp")),
                upgrade_protection_until=parse_time(claims.get("upg")),
            )
        except KeyError as exc:
            raise UnexpectedResponseError(f"the lease lacks the claim {exc}") from None


@dataclass(frozen=True, slots=True)
class Activation:
    """The ``activation`` object of an activation answer."""

    id: str
    fingerprint: str
    server_name: str
    activated_at: datetime | None

    @classmethod
    def from_json(cls, data: object) -> Activation:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise UnexpectedResponseError("the answer has no activation object")
        return cls(
            id=data["id"],
            fingerprint=str(data.get("fingerprint", "")),
            server_name=str(data.get("server_name", "")),
            activated_at=parse_time(data.get("activated_at")),
        )


@dataclass(frozen=True, slots=True)
class ActivationResult:
    """``201`` (``created``) or ``200`` (already active: same id, no seat used)."""

    created: bool
    activation: Activation
    license: LicenseInfo
    lease: Lease
    next_check_in_at: datetime
    server_time: datetime | None
    request_id: str | None
    valid: bool = True
    code: str = "VALID"

    @property
    def activation_id(self) -> str:
        return self.activation.id


@dataclass(frozen=True, slots=True)
class CheckInResult:
    """The check-in verdict: data, not an error. ``lease`` only when ``valid``."""

    valid: bool
    code: str
    detail: str | None
    license: LicenseInfo | None
    lease: Lease | None
    next_check_in_at: datetime | None
    server_time: datetime | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class DeactivationResult:
    """``200 {"code": "DEACTIVATED"}``: the seat is released."""

    activation_id: str
    code: str
    server_time: datetime | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Status:
    """The offline answer of :meth:`InstanceClient.status`, from the stored lease alone.

    ``code``: ``VALID``; ``NOT_ACTIVATED`` (no activation or lease stored);
    ``LEASE_EXPIRED`` (the grace period is over); ``LEASE_INVALID`` (the stored lease
    does not verify against the pinned keys, product or fingerprint).
    """

    valid: bool
    code: str
    detail: str
    fingerprint: str
    activation_id: str | None
    lease: Lease | None
    checked_at: datetime

    @property
    def expires_at(self) -> datetime | None:
        return self.lease.expires_at if self.lease else None

    @property
    def entitlements(self) -> tuple[str, ...]:
        return self.lease.entitlements if self.lease and self.valid else ()


def server_time(body: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time(body.get("server_time"))
    except UnexpectedResponseError:
        return None


def next_check_in(body: Mapping[str, Any]) -> datetime:
    return _required_time(body.get("next_check_in_at"), "next_check_in_at")


# -- partner answers (PROTOCOL.md §6; not signed) -----------------------------------------


def _member(data: Mapping[str, Any], name: str, kind: type[Any], *, nullable: bool = False) -> Any:
    """``data[name]`` if it has the JSON type ``kind`` (``bool`` is no ``int`` here)."""
    if name not in data:
        raise UnexpectedResponseError(f"the answer lacks {name!r}")
    value = data[name]
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UnexpectedResponseError(f"{name!r} in the answer is not a {kind.__name__}")
    return value


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UnexpectedResponseError(f"the answer has no {name} object")
    return value


@dataclass(frozen=True, slots=True)
class PartnerLicense:
    """The ``license`` object of a partner check: no id, no personal data.

    ``valid``/``code`` is the license's verdict (``VALID``, ``REVOKED``, ``SUSPENDED``,
    ``EXPIRED``); ``status`` its state (``active``, ``suspended``, ``revoked``).
    """

    product: str
    edition: str
    status: str
    valid: bool
    code: str
    expires_at: datetime | None
    upgrade_protection_until: datetime | None
    activations_used: int
    activations_allowed: int

    @classmethod
    def from_json(cls, data: object) -> PartnerLicense:
        data = _mapping(data, "license")
        seats = _mapping(data.get("activations"), "license.activations")
        return cls(
            product=_member(data, "product", str),
            edition=_member(data, "edition", str),
            status=_member(data, "status", str),
            valid=_member(data, "valid", bool),
            code=_member(data, "code", str),
            expires_at=parse_time(_member(data, "expires_at", str, nullable=True)),
            upgrade_protection_until=parse_time(
                _member(data, "upgrade_protection_until", str, nullable=True)
            ),
            activations_used=_member(seats, "used", int),
            activations_allowed=_member(seats, "allowed", int),
        )


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Whether the license covers an upgrade to ``target_version``.

    ``reason``: ``COVERED``, ``PROTECTION_EXPIRED`` (``renewal_required``),
    ``UNKNOWN_RELEASE`` (no such release) or ``LICENSE_INVALID``.
    """

    target_version: str
    eligible: bool
    reason: str
    latest_eligible_version: str | None
    renewal_required: bool

    @classmethod
    def from_json(cls, data: object) -> Upgrade:
        data = _mapping(data, "upgrade")
        return cls(
            target_version=_member(data, "target_version", str),
            eligible=_member(data, "eligible", bool),
            reason=_member(data, "reason", str),
            latest_eligible_version=_member(data, "latest_eligible_version", str, nullable=True),
            renewal_required=_member(data, "renewal_required", bool),
        )


@dataclass(frozen=True, slots=True)
class LicenseCheck:
    """A partner's answer about one license; ``upgrade`` only when a target was asked."""

    license: PartnerLicense
    upgrade: Upgrade | None
    request_id: str | None = field(default=None, compare=False)

    @property
    def valid(self) -> bool:
        return self.license.valid

    @property
    def code(self) -> str:
        return self.license.code

    @property
    def ok(self) -> bool:
        """Valid and, when a target version was asked about, eligible for it."""
        return self.license.valid and (self.upgrade is None or self.upgrade.eligible)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, request_id: str | None = None) -> LicenseCheck:
        upgrade = body.get("upgrade")
        return cls(
            license=PartnerLicense.from_json(body.get("license")),
            upgrade=Upgrade.from_json(upgrade) if upgrade is not None else None,
            request_id=request_id,
        )


@dataclass(frozen=True, slots=True)
class Release:
    """A released version of a product and when it was released."""

    version: str
    released_at: datetime

    @classmethod
    def from_json(cls, data: object) -> Release:
        data = _mapping(data, "release")
        return cls(
            version=_member(data, "version", str),
            released_at=_required_time(_member(data, "released_at", str), "released_at"),
        )
