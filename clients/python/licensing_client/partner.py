"""``PartnerClient``: a partner asks about a customer's license and a product's releases.

PROTOCOL.md §6: ``Authorization: Bearer <partner API key>``; answers are plain JSON,
not signed (only instance answers are), so nothing here verifies a signature.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from licensing_client._lifecycle import SessionOwner
from licensing_client.errors import (
    ConfigurationError,
    LicensingClientError,
    UnexpectedResponseError,
    partner_error_class,
)
from licensing_client.keys import formatted, normalise
from licensing_client.models import LicenseCheck, Release
from licensing_client.transport import (
    BearerAuth,
    BearerTransport,
    Clock,
    PlainAnswer,
    RetryPolicy,
    Sleep,
    default_sleep,
)

LICENSE_CHECKS = "/v1/partner/license-checks"
RELEASES = "/v1/partner/products/{code}/releases"
# The server's keys read ``lpk_<key id>_<secret>``; the key id is public (``key list``).
_KEY_ID = re.compile(r"^lpk_([A-Za-z0-9]+)_")
# What may go in a header value, without whitespace: printable ASCII.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A partner API key. Its ``repr`` shows only the public key id."""

    key_id: str | None
    token: str = field(repr=False)

    @classmethod
    def parse(cls, raw: str) -> ApiKey:
        """The key as given, without surrounding whitespace (say, a newline from a file).

        Raises :class:`ConfigurationError`, which never quotes the key.
        """
        if not isinstance(raw, str):
            raise ConfigurationError("the partner API key must be a string")
        token = raw.strip()
        if not token:
            raise ConfigurationError("a partner API key is required")
        if not _TOKEN.match(token):
            raise ConfigurationError(
                "the partner API key contains spaces or characters outside printable ASCII"
            )
        match = _KEY_ID.match(token)
        return cls(key_id=match.group(1) if match else None, token=token)


class PartnerClient(SessionOwner):
    """A registered partner (reseller, lease provider) talking to the licensing server.

    Raises, besides :class:`ConfigurationError` for a bad URL or API key:
    :class:`MalformedKeyError` (the license key, before anything is sent),
    :class:`UnauthenticatedError` (``401``), :class:`ForbiddenError` (``403``),
    :class:`LicenseNotFoundError` / :class:`NotFoundError` (``404``),
    :class:`InvalidRequestError` (``422``, with ``errors``), :class:`RateLimitedError`
    (``429`` after the retries, with ``retry_after``), :class:`ServerUnreachableError`
    (connection errors, timeouts, ``5xx`` after the retries) and
    :class:`UnexpectedResponseError`. Every one carries ``code``, ``detail``,
    ``status`` and ``request_id``; none carries the API key.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        sleep: Sleep = default_sleep,
        max_retry_after: float = 60.0,
    ) -> None:
        self.api_key = ApiKey.parse(api_key)
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigurationError("timeout must be positive; retries and backoff not negative")
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._transport = BearerTransport(
            base_url,
            BearerAuth(self.api_key.token),
            timeout=timeout,
            policy=RetryPolicy(retries=retries, backoff=backoff, max_retry_after=max_retry_after),
            session=self._session,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"PartnerClient({self.base_url!r}, key_id={self.api_key.key_id!r})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    # -- calls -------------------------------------------------------------------------

    def check(self, license_key: str, target_version: str | None = None) -> LicenseCheck:
        """Is this license valid and, with ``target_version``, may it upgrade to it?

        The key may be typed any way PROTOCOL.md §1 allows; a malformed one raises
        :class:`MalformedKeyError` and nothing is sent. A license that is not valid or
        not eligible is an answer (``check.ok`` is ``False``), not an error.
        """
        payload: dict[str, Any] = {"license_key": formatted(normalise(license_key))}
        if target_version is not None:
            payload["target_version"] = target_version
        answer = self._call("POST", LICENSE_CHECKS, payload)
        with _answer_context(answer):
            return LicenseCheck.from_json(self._object(answer), request_id=answer.request_id)

    def releases(self, product: str) -> list[Release]:
        """A product the partner is registered for: its releases, as the server orders them
        (oldest first). Another product raises :class:`NotFoundError`."""
        if not isinstance(product, str) or product.strip(".") == "":
            raise ConfigurationError("product (the product code) is required")
        answer = self._call("GET", RELEASES.format(code=quote(product, safe="")), None)
        with _answer_context(answer):
            items = self._object(answer).get("releases")
            if not isinstance(items, list):
                raise UnexpectedResponseError("the answer has no releases list")
            return [Release.from_json(item) for item in items]

    # -- internals -----------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None) -> PlainAnswer:
        """A ``2xx`` answer; a problem is raised as its error class."""
        answer = self._transport.call(method, path, payload)
        if answer.status < 300:
            return answer
        if answer.status < 400:
            raise UnexpectedResponseError(
                f"unexpected answer (HTTP {answer.status})",
                status=answer.status,
                request_id=answer.request_id,
            )
        # A problem+json body, or (from a proxy, say) none: the status alone decides then.
        raise LicensingClientError.from_problem(
            answer.status,
            answer.body or {},
            classify=partner_error_class,
            request_id=answer.request_id,
        )

    @staticmethod
    def _object(answer: PlainAnswer) -> dict[str, Any]:
        if answer.status != 200 or answer.body is None:
            raise UnexpectedResponseError(
                f"unexpected answer (HTTP {answer.status}, not a JSON object)"
            )
        return answer.body


@contextmanager
def _answer_context(answer: PlainAnswer) -> Iterator[None]:
    """An answer this client cannot read: the error names its status and request id."""
    try:
        yield
    except UnexpectedResponseError as exc:
        raise UnexpectedResponseError(
            exc.detail, status=answer.status, request_id=answer.request_id
        ) from None
