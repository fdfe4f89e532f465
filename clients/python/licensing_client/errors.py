"""Typed errors carrying the server's problem ``code``, ``detail``, ``status``, ``request_id``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    def from_problem(
        cls,
        status: int,
        problem: Mapping[str, Any],
        *,
        classify: Callable[[int, str], type[LicensingClientError]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> LicensingClientError:
        """The error for a problem+json answer (RFC 9457, PROTOCOL.md §7).

        ``classify`` picks the class from status and code (default: the instance API's
        mapping); ``request_id`` is the ``X-Request-Id`` header, used when the body
        has none; ``retry_after`` is kept on :class:`ServerUnreachableError` and its
        subclasses.
        """
        code = str(problem.get("code") or "")
        detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        given = problem.get("request_id")
        kind = (classify or _error_class)(status, code)
        options: dict[str, Any] = {
            "code": code or None,
            "status": status,
            "request_id": given if isinstance(given, str) and given else request_id,
            "problem": problem,
        }
        if issubclass(kind, ServerUnreachableError):
            options["retry_after"] = retry_after
        return kind(detail, **options)

    def __str__(self) -> str:
        parts = [f"{self.code}: {self.summary()}"]
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")

    def summary(self) -> str:
        """The detail, as the one line of ``str()`` shows it."""
        return self.detail


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


class RateLimitedError(ServerUnreachableError):
    """``429 RATE_LIMITED`` after every retry, or with a ``Retry-After`` beyond the limit.

    ``retry_after`` (seconds) is when the server said to try again, if it said so.
    """

    default_code = "RATE_LIMITED"


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
    # Enough to name what was refused on one line; the rest stays in ``errors``.
    SHOWN_FIELDS = 3

    def summary(self) -> str:
        """The detail and the refused fields: ``...: server_name: Not a valid string.``"""
        errors = self.errors
        if not errors:
            return self.detail
        shown = [
            f"{name}: {messages[0] if messages else 'refused'}"
            for name, messages in list(errors.items())[: self.SHOWN_FIELDS]
        ]
        more = len(errors) - len(shown)
        if more:
            shown.append(f"and {more} more field{'s' if more > 1 else ''}")
        return f"{self.detail.rstrip('.')}: {'; '.join(shown)}"

    @property
    def errors(self) -> dict[str, list[str]]:
        raw = self.problem.get("errors")
        if not isinstance(raw, dict):
            return {}
        return {
            str(name): [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
            for name, messages in raw.items()
        }


class UnauthenticatedError(LicensingClientError):
    """Partner ``401 UNAUTHENTICATED``: the API key is missing, unknown, expired or revoked."""

    default_code = "UNAUTHENTICATED"


class ForbiddenError(LicensingClientError):
    """Partner ``403 FORBIDDEN``: a scope the key lacks, an address outside the allow-list,
    or a suspended partner."""

    default_code = "FORBIDDEN"


class NotFoundError(LicensingClientError):
    """Partner ``404``: for example a product the partner is not registered for."""

    default_code = "NOT_FOUND"


class LicenseNotFoundError(NotFoundError):
    """Partner ``404 LICENSE_NOT_FOUND``: no license with this key among the partner's
    products (an unknown key and another product's key answer alike)."""

    default_code = "LICENSE_NOT_FOUND"


class UnexpectedResponseError(LicensingClientError):
    """An answer (verified, for instance calls) this client does not know how to read."""

    default_code = "UNEXPECTED_RESPONSE"


# Status -> class, for problems the status alone classifies (PROTOCOL.md §5-§7).
_INSTANCE_ERRORS: dict[int, type[LicensingClientError]] = {
    401: SignatureRejectedError,
    403: LicenseRefusedError,
    422: InvalidRequestError,
    429: RateLimitedError,
}
_PARTNER_ERRORS: dict[int, type[LicensingClientError]] = {
    401: UnauthenticatedError,
    403: ForbiddenError,
    404: NotFoundError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def _error_class(status: int, code: str) -> type[LicensingClientError]:
    """The class of a problem from an instance endpoint."""
    if status == 404 and code == "NOT_ACTIVATED":
        return NotActivatedError
    return _by_status(_INSTANCE_ERRORS, status)


def partner_error_class(status: int, code: str) -> type[LicensingClientError]:
    """The class of a problem from a partner endpoint (PROTOCOL.md §6)."""
    if status == 404 and code == "LICENSE_NOT_FOUND":
        return LicenseNotFoundError
    return _by_status(_PARTNER_ERRORS, status)


def _by_status(
    table: Mapping[int, type[LicensingClientError]], status: int
) -> type[LicensingClientError]:
    if status in table:
        return table[status]
    return ServerUnreachableError if status >= 500 else UnexpectedResponseError
