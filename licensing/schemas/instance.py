"""Request and answer schemas of the instance endpoints (PROTOCOL.md §5)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from licensing.errors import InvalidRequest
from licensing.schemas.common import ProblemSchema, UsageCounters, printable_ascii
from licensing.versions import parse_version

_SERVER_NAME = validate.Length(min=1, max=253)


class _VersionField(fields.String):
    """PEP 440 or semver; answers carry the version as reported."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 64:
            raise ValidationError("at most 64 characters")
        try:
            parse_version(text)
        except InvalidRequest:
            raise ValidationError("not a PEP 440 or semver version") from None
        return text


class ActivationRequest(Schema):
    product = fields.String(required=True, validate=validate.Length(min=1, max=64))
    fingerprint = fields.String(required=True, validate=printable_ascii(16, 128))
    server_name = fields.String(required=True, validate=_SERVER_NAME)
    product_version = _VersionField(required=True, metadata={"example": "2.1.0"})
    platform = fields.String(validate=validate.Length(max=64))
    usage = UsageCounters()


class CheckInRequest(Schema):
    activation_id = fields.UUID()
    fingerprint = fields.String(validate=printable_ascii(16, 128))
    server_name = fields.String(required=True, validate=_SERVER_NAME)
    product_version = _VersionField(required=True, metadata={"example": "2.1.0"})
    usage = UsageCounters()

    @validates_schema
    def _names_an_activation(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "activation_id" not in data and "fingerprint" not in data:
            raise ValidationError("give activation_id or fingerprint", field_name="activation_id")

    @validates("fingerprint")
    def _not_blank(self, value: str, **kwargs: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")


class SeatsSchema(Schema):
    used = fields.Integer(required=True)
    allowed = fields.Integer(required=True)
    migration_until = fields.String(
        metadata={"description": "Present while a seat is held under the migration allowance."}
    )


class LicenseSchema(Schema):
    id = fields.UUID(required=True)
    product = fields.String(required=True)
    edition = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["active", "suspended", "revoked"]})
    expires_at = fields.String(required=True, allow_none=True)
    upgrade_protection_until = fields.String(required=True, allow_none=True)
    entitlements = fields.List(fields.String(), required=True)
    activations = fields.Nested(SeatsSchema, required=True)


class ActivationSchema(Schema):
    id = fields.UUID(required=True)
    fingerprint = fields.String(required=True)
    server_name = fields.String(required=True, allow_none=True)
    activated_at = fields.String(required=True)


class _Signed(Schema):
    nonce = fields.String(required=True, metadata={"description": "The request's nonce."})
    server_time = fields.String(required=True, metadata={"example": "2026-11-25T10:00:00Z"})


class ActivationAnswer(_Signed):
    valid = fields.Boolean(required=True)
    code = fields.String(required=True, metadata={"example": "VALID"})
    activation = fields.Nested(ActivationSchema, required=True)
    license = fields.Nested(LicenseSchema, required=True)
    lease = fields.String(required=True, metadata={"description": "EdDSA JWT (PROTOCOL.md §4)."})
    next_check_in_at = fields.String(required=True)


class CheckInAnswer(_Signed):
    valid = fields.Boolean(required=True)
    code = fields.String(required=True)
    detail = fields.String()
    license = fields.Nested(LicenseSchema, required=True)
    lease = fields.String(metadata={"description": "Present only when valid."})
    next_check_in_at = fields.String(required=True)


class DeactivationAnswer(_Signed):
    code = fields.String(required=True, metadata={"example": "DEACTIVATED"})


class InstanceProblemSchema(ProblemSchema):
    nonce = fields.String()
    server_time = fields.String(required=True)
