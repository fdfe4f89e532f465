"""Request and answer schemas of the partner endpoints (PROTOCOL.md §6).

The answer schemas are the allow-list: they dump only the fields declared here, so
nothing personal can slip in, and the disclosure log records the fields they dumped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, pre_dump, validate

from licensing.schemas.common import ProblemSchema, Rfc3339

if TYPE_CHECKING:
    from licensing.services.partner_checks import LicenseCheck


class LicenseCheckRequest(Schema):
    # Generous: separators and spaces are dropped by normalisation (PROTOCOL.md §1).
    license_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"},
    )
    # null is read as absent, as many JSON encoders write optional members that way.
    target_version = fields.String(
        allow_none=True, validate=validate.Length(min=1, max=64), metadata={"example": "2.1.0"}
    )


class _Seats(Schema):
    used = fields.Integer(required=True)
    allowed = fields.Integer(required=True)


class PartnerLicenseSchema(Schema):
    """What a partner learns about a license, dumped from a ``LicenseCheck``."""

    product = fields.String(
        required=True, attribute="state.product_code", metadata={"example": "mailserver"}
    )
    edition = fields.String(
        required=True, attribute="state.edition_code", metadata={"example": "standard"}
    )
    status = fields.String(
        required=True,
        attribute="state.status",
        metadata={"enum": ["active", "suspended", "revoked"]},
    )
    valid = fields.Boolean(required=True, attribute="verdict.valid")
    code = fields.String(
        required=True,
        attribute="verdict.code",
        metadata={"enum": ["VALID", "REVOKED", "SUSPENDED", "EXPIRED"]},
    )
    expires_at = Rfc3339(required=True, allow_none=True, attribute="state.expires_at")
    upgrade_protection_until = Rfc3339(
        required=True, allow_none=True, attribute="state.upgrade_protection_until"
    )
    activations = fields.Nested(_Seats, required=True)


class UpgradeSchema(Schema):
    target_version = fields.String(required=True)
    eligible = fields.Boolean(required=True)
    reason = fields.String(
        required=True,
        metadata={"enum": ["COVERED", "PROTECTION_EXPIRED", "UNKNOWN_RELEASE", "LICENSE_INVALID"]},
    )
    latest_eligible_version = fields.String(required=True, allow_none=True)
    renewal_required = fields.Boolean(required=True)


class LicenseCheckAnswer(Schema):
    license = fields.Nested(PartnerLicenseSchema, required=True)
    upgrade = fields.Nested(UpgradeSchema, metadata={"description": "With target_version."})

    @pre_dump
    def _sections(self, check: LicenseCheck, **_: Any) -> dict[str, Any]:
        """The license section is the check itself; the upgrade one only when asked for."""
        if check.upgrade is None:
            return {"license": check}
        return {"license": check, "upgrade": check.upgrade}


class ReleaseSchema(Schema):
    version = fields.String(required=True, metadata={"example": "2.1.0"})
    released_at = Rfc3339(required=True, metadata={"example": "2026-09-01T00:00:00Z"})


class ReleasesAnswer(Schema):
    product = fields.String(required=True)
    releases = fields.List(fields.Nested(ReleaseSchema), required=True)


class PartnerProblemSchema(ProblemSchema):
    pass
