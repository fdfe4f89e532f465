"""One tree of domain errors, rendered as RFC 9457 problem+json by one handler.

Verdicts (``VALID``, ``SUSPENDED``, ...) are data, not errors; these are for requests
that cannot be carried out at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"


class LicensingError(Exception):
    """Base of every error the product raises on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement of the class code
        self.errors = {k: list(v) for k, v in (errors or {}).items()}


class ConfigError(LicensingError):
    status = 500
    code = "CONFIGURATION_ERROR"
    title = "Invalid configuration"


class NotFound(LicensingError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"


class Conflict(LicensingError):
    status = 409
    code = "CONFLICT"
    title = "Conflict"


class InvalidTransition(Conflict):
    """A state change the record's current state does not allow (e.g. reinstate revoked)."""

    code = "INVALID_STATE"
    title = "Not allowed in the current state"


class InvalidRequest(LicensingError):
    status = 422
    code = "INVALID_REQUEST"
    title = "Invalid request"


class MalformedKey(InvalidRequest):
    """A license key that cannot be valid; raised before any database lookup."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors={"license_key": [detail]})


class Unauthenticated(LicensingError):
    status = 401
    code = "UNAUTHENTICATED"
    title = "Unauthenticated"


class Forbidden(LicensingError):
    status = 403
    code = "FORBIDDEN"
    title = "Forbidden"


class NonceReplayed(LicensingError):
    """The ``(key id, nonce)`` pair was already accepted within the replay window."""

    status = 401
    code = "NONCE_REPLAYED"
    title = "Request signature rejected"

    def __init__(self) -> None:
        super().__init__("this nonce was already used with this key")


def problem_type(code: str) -> str:
    """The problem ``type`` URI; relative, resolved against the server's own address."""
    return "/problems/" + code.lower().replace("_", "-")


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str,
    errors: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, object]:
    """The members every problem carries (PROTOCOL.md §7), plus ``errors`` on a 422."""
    body: dict[str, object] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = {k: list(v) for k, v in errors.items()}
    return body
