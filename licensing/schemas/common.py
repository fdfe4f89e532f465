"""Schemas shared by every audience: problems and the building blocks of answers."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from licensing.timeutil import rfc3339

_COUNTER = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_COUNTERS = 32
MAX_COUNTER_VALUE = 2**63 - 1


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error is answered."""

    type = fields.String(required=True, metadata={"example": "/problems/invalid-request"})
    title = fields.String(required=True, metadata={"example": "Invalid request"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"example": "INVALID_REQUEST"})
    request_id = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "422 only: field name → messages (flat)."},
    )


class UsageCounters(fields.Dict):
    """At most 32 counters, names ``[a-z0-9_]{1,64}``, values non-negative integers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(),
            values=fields.Raw(),
            metadata={
                "description": 'Usage counters, e.g. {"mailboxes": 120}.',
                "example": {"mailboxes": 120},
                "maxProperties": MAX_COUNTERS,
            },
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, int]:
        counters = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-untyped-call]
        if len(counters) > MAX_COUNTERS:
            raise ValidationError(f"at most {MAX_COUNTERS} counters")
        for name, count in counters.items():
            if not _COUNTER.match(name):
                raise ValidationError(f"counter name {name!r} must match [a-z0-9_]{{1,64}}")
            # bool is an int in Python, but not a counter in JSON.
            if type(count) is not int or not 0 <= count <= MAX_COUNTER_VALUE:
                raise ValidationError(f"counter {name!r} must be a non-negative integer")
        return dict(counters)


class Rfc3339(fields.String):
    """A moment as the protocol's answers carry it (UTC, seconds, ``Z``); a string."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return rfc3339(value)


class _WholeMatch(validate.Regexp):
    """A Regexp that must match the whole value: Python's ``$`` also matches before a
    trailing newline, so ``"id\n"`` would pass a ``^...$`` pattern matched from the start.
    The pattern stays as written for the OpenAPI document, where ``$`` means the end.
    """

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def printable_ascii(minimum: int, maximum: int) -> validate.Validator:
    return _WholeMatch(
        rf"^[\x20-\x7e]{{{minimum},{maximum}}}$",
        error=f"must be {minimum}-{maximum} printable ASCII characters",
    )
