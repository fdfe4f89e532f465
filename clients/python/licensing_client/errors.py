"""Typed errors carrying the server's problem ``code``, ``detail``, ``status``, ``request_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LicensingClientError(Exception):
    """Base class of every error this package raises."""

    default_code = "CLIENT_ERROR"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.status = status
        self.request_id = request_id
        self.problem: dict[str, Any] = dict(problem or {})

    @classmethod
    def from_problem(cls, status: int, problem: Mapping[str, Any]) -> LicensingClientError:
        """The error for a verified problem+json answer (RFC 9457, PROTOCOL.md §7)."""
        code = str(problem.get("code") or "")
        detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        request_id = problem.get("request_id")
        kind = _error_class(status, code)
        return kind(
            detail,
            code=code or None,
            status=status,
            request_id=request_id if isinstance(request_id, str) else None,
            problem=problem,
        )

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.detail}"]
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


class MalformedKeyError(LicensingClientError, ValueError):
    """The license key is not well formed (PROTOCOL.md §1); nothing was sent."""

    default_code = "MALFORMED_KEY"


class ConfigurationError(LicensingClientError, ValueError):
    """The client was given something it cannot use (keys, URL, missing version)."""

    default_code = "CLIENT_CONFIGURATION"


class StateError(LicensingClientError):
    """The state directory holds something this client did not write."""

    default_code = "STATE_CORRUPT"


class ServerUnreachableError(LicensingClientError):
    """No usable answer: connection failures, timeouts, 5xx or 429 after every retry."""

    default_code = "SERVER_UNREACHABLE"

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class UnverifiedResponseError(ServerUnreachableError):
    """Answers came back but none passed verification (PROTOCOL.md §3): no answer at all."""

    default_code = "RESPONSE_UNVERIFIED"


class LicenseRefusedError(LicensingClientError):
    """``403``: the license may not be activated (the verdict is ``code``)."""

    default_code = "LICENSE_REFUSED"


class NotActivatedError(LicensingClientError):
    """``404 NOT_ACTIVATED``: this instance has no live activation."""

    default_code = "NOT_ACTIVATED"


class SignatureRejectedError(LicensingClientError):
    """``401``: the server refused the request signature (``SIGNATURE_*``, ``UNKNOWN_KEY``…)."""

    default_code = "SIGNATURE_REJECTED"


class InvalidRequestError(LicensingClientError):
    """``422 INVALID_REQUEST``; ``errors`` maps field names to messages."""

    default_code = "INVALID_REQUEST"

    @property
    def errors(self) -> dict[str, list[str]]:
        raw = self.problem.get("errors")
        if not isinstance(raw, dict):
            return {}
        return {
            str(name): [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
            for name, messages in raw.items()
        }


class UnexpectedResponseError(LicensingClientError):
    """A verified answer this client does not know how to read."""

    default_code = "UNEXPECTED_RESPONSE"


def _error_class(status: int, code: str) -> type[LicensingClientError]:
    if status == 401:
        return SignatureRejectedError
    if status == 403:
        return LicenseRefusedError
    if status == 404 and code == "NOT_ACTIVATED":
        return NotActivatedError
    if status == 422:
        return InvalidRequestError
    if status == 429 or status >= 500:
        return ServerUnreachableError
    return UnexpectedResponseError
