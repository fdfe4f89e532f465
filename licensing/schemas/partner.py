"""Request and answer schemas of the partner endpoints (PROTOCOL.md §6).

Answers are built from an allow-list of fields: nothing personal can slip in.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from licensing.schemas.common import ProblemSchema


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
    product = fields.String(required=True, metadata={"example": "mailserver"})
    edition = fields.String(required=True, metadata={"example": "standard"})
    status = fields.String(required=True, metadata={"enum": ["active", "suspended", "revoked"]})
    valid = fields.Boolean(required=True)
    code = fields.String(
        required=True, metadata={"enum": ["VALID", "REVOKED", "SUSPENDED", "EXPIRED"]}
    )
    expires_at = fields.String(required=True, allow_none=True)
    upgrade_protection_until = fields.String(required=True, allow_none=True)
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


class ReleaseSchema(Schema):
    version = fields.String(required=True, metadata={"example": "2.1.0"})
    released_at = fields.String(required=True, metadata={"example": "2026-09-01T00:00:00Z"})


class ReleasesAnswer(Schema):
    product = fields.String(required=True)
    releases = fields.List(fields.Nested(ReleaseSchema), required=True)


class PartnerProblemSchema(ProblemSchema):
    pass
