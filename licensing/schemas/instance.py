"""Request and answer schemas of the instance endpoints (PROTOCOL.md §5), and the answers.

Each answer is built by the one function beside its schema (``activation_body``,
``check_in_body``, ``deactivation_body``); the schema documents that shape in the
OpenAPI document, and a test holds every answer sent to its schema. Plain dicts, not a
schema's ``dump``: dumping the check-in answer costs about 14 µs more per check-in than
building it (bench/answer_dump.py). The echoed members (``nonce``, ``server_time``) are
added by the signing edge (``licensing.api.signatures.json_answer``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from licensing.errors import InvalidRequest
from licensing.schemas.common import ProblemSchema, UsageCounters, printable_ascii
from licensing.services.check_ins import server_name_as_stored
from licensing.services.instance_calls import Answer
from licensing.timeutil import rfc3339
from licensing.versions import parse_version


class _ServerNameField(fields.String):
    """1–253 characters, stored and answered in the one spelling of
    :func:`~licensing.services.check_ins.server_name_as_stored` (host names are
    case-insensitive), so every path a report takes (activation, a check-in written on
    its own or by the group commit) stores and hashes one server under one name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Length(min=1, max=253),
            metadata={
                "description": "ASCII letters stored lower-cased (RFC 4343).",
                "example": "mail01.example.com",
            },
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return server_name_as_stored(super()._deserialize(value, attr, data, **kwargs))


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
    server_name = _ServerNameField(required=True)
    product_version = _VersionField(required=True, metadata={"example": "2.1.0"})
    platform = fields.String(validate=validate.Length(max=64))
    usage = UsageCounters()


class CheckInRequest(Schema):
    activation_id = fields.UUID()
    fingerprint = fields.String(validate=printable_ascii(16, 128))
    server_name = _ServerNameField(required=True)
    product_version = _VersionField(required=True, metadata={"example": "2.1.0"})
    usage = UsageCounters()
    lease_jti = fields.String(
        validate=printable_ascii(1, 64),
        metadata={
            "description": "The `jti` of the last lease this instance holds, if it holds one "
            "(the lease chain, docs/protocol.md decision 19). Optional: an instance that "
            "omits it is served the same.",
            "example": "0b7e4f1c-2d3a-4c5b-8e9f-a1b2c3d4e5f6",
        },
    )

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


def _license(answer: Answer) -> dict[str, Any]:
    state, seats = answer.state, answer.seats
    activations: dict[str, Any] = {"used": seats.used, "allowed": seats.allowed}
    if seats.migration_until is not None:
        activations["migration_until"] = rfc3339(seats.migration_until)
    return {
        "id": str(state.id),
        "product": state.product_code,
        "edition": state.edition_code,
        "status": state.status,
        "expires_at": rfc3339(state.expires_at),
        "upgrade_protection_until": rfc3339(state.upgrade_protection_until),
        "entitlements": list(state.entitlements),
        "activations": activations,
    }


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
    detail = fields.String()
    activation = fields.Nested(ActivationSchema, required=True)
    license = fields.Nested(LicenseSchema, required=True)
    lease = fields.String(required=True, metadata={"description": "EdDSA JWT (PROTOCOL.md §4)."})
    next_check_in_at = fields.String(required=True)


def activation_body(answer: Answer) -> dict[str, Any]:
    """The body of an ``ActivationAnswer``."""
    body = check_in_body(answer)
    body["activation"] = {
        "id": str(answer.activation_id),
        "fingerprint": answer.fingerprint,
        "server_name": answer.server_name,
        "activated_at": rfc3339(answer.activated_at),
    }
    return body


class CheckInAnswer(_Signed):
    valid = fields.Boolean(required=True)
    code = fields.String(required=True)
    detail = fields.String()
    license = fields.Nested(LicenseSchema, required=True)
    lease = fields.String(metadata={"description": "Present only when valid."})
    next_check_in_at = fields.String(required=True)


def check_in_body(answer: Answer) -> dict[str, Any]:
    """The body of a ``CheckInAnswer``: the verdict, and the lease when it is valid."""
    body: dict[str, Any] = {
        "valid": answer.verdict.valid,
        "code": str(answer.verdict.code),
        "detail": answer.verdict.detail,
        "license": _license(answer),
        "next_check_in_at": rfc3339(answer.next_check_in_at),
    }
    if answer.verdict.valid:
        body["lease"] = answer.lease
    return body


class DeactivationAnswer(_Signed):
    code = fields.String(required=True, metadata={"example": "DEACTIVATED"})


def deactivation_body() -> dict[str, Any]:
    """The body of a ``DeactivationAnswer``."""
    return {"code": "DEACTIVATED"}


class InstanceProblemSchema(ProblemSchema):
    nonce = fields.String()
    server_time = fields.String(required=True)
