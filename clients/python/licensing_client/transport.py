"""Sending signed calls: one fresh signature per attempt, retries, verified answers only."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from licensing_client._version import __version__
from licensing_client.errors import (
    ConfigurationError,
    LicensingClientError,
    ServerUnreachableError,
    UnverifiedResponseError,
)
from licensing_client.jwks import TrustedKeys
from licensing_client.keys import LicenseKey
from licensing_client.signing import (
    ResponseVerificationError,
    VerifiedAnswer,
    new_nonce,
    sign_request,
    verify_response,
)

log = logging.getLogger(__name__)
Clock = Callable[[], float]
Sleep = Callable[[float], None]


def normalise_base_url(base_url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing ``/``, query or fragment."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"the server address must be an http(s) URL, not {base_url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError("the server address must not carry a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting ``backoff × 2^n`` seconds.

    A ``Retry-After`` on a ``429`` or ``5xx`` answer replaces the computed wait; one
    longer than ``max_retry_after`` ends the retries at once.
    """

    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt))

    def gives_up(self, retry_after: float | None) -> bool:
        return retry_after is not None and retry_after > self.max_retry_after


class Transport:
    """Builds, signs, sends and verifies one instance call, retrying what may be retried."""

    def __init__(
        self,
        base_url: str,
        key: LicenseKey,
        keys: TrustedKeys,
        *,
        timeout: float,
        policy: RetryPolicy,
        session: requests.Session | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self._key, self._keys = key, keys
        self._timeout, self._policy = timeout, policy
        self._session = session if session is not None else requests.Session()
        self._clock, self._sleep = clock, sleep

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None) -> VerifiedAnswer:
        """The first verified answer that is not ``429``/``5xx``, or ServerUnreachableError."""
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        failure: ServerUnreachableError | None = None
        for attempt in range(self._policy.retries + 1):
            if failure is not None:
                self._sleep(self._wait(attempt - 1, failure))
            outcome = self._attempt(method, path, body)
            if isinstance(outcome, VerifiedAnswer):
                return outcome
            failure = outcome
            log.info("%s %s: attempt %d failed: %s", method, path, attempt + 1, failure)
            if self._policy.gives_up(failure.retry_after):
                break
        assert failure is not None
        raise failure

    def _attempt(
        self, method: str, path: str, body: bytes | None
    ) -> VerifiedAnswer | ServerUnreachableError:
        """One freshly signed attempt: a verified answer, or why it counts as none."""
        nonce = new_nonce()
        request = self._prepare(method, path, body, nonce)
        try:
            response = self._session.send(
                request,
                timeout=self._timeout,
                allow_redirects=False,
                **self._session.merge_environment_settings(request.url or "", {}, None, None, None),
            )
        except requests.RequestException as exc:
            return ServerUnreachableError(f"{method} {path} failed: {exc}")
        try:
            answer = verify_response(response, self._keys, nonce=nonce, now=self._clock())
        except ResponseVerificationError as exc:
            return UnverifiedResponseError(
                f"{method} {path}: HTTP {response.status_code} answer ignored: {exc}",
                status=response.status_code,
            )
        if answer.status == 429 or answer.status >= 500:
            error = LicensingClientError.from_problem(answer.status, answer.body)
            return ServerUnreachableError(
                error.detail,
                code=error.code,
                status=answer.status,
                request_id=error.request_id,
                problem=answer.body,
                retry_after=self._retry_after(answer.retry_after),
            )
        return answer

    def _prepare(
        self, method: str, path: str, body: bytes | None, nonce: str
    ) -> requests.PreparedRequest:
        headers = {
            "Accept": "application/json, application/problem+json",
            "Accept-Encoding": "identity",
            "User-Agent": f"licensing-client-python/{__version__}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = self._session.prepare_request(
            requests.Request(method, self.base_url + path, headers=headers, data=body)
        )
        sign_request(request, self._key, nonce=nonce, created=self._clock())
        return request

    def _wait(self, retry: int, failure: ServerUnreachableError) -> float:
        if failure.retry_after is not None:
            return failure.retry_after
        return self._policy.delay(retry)

    def _retry_after(self, value: str | None) -> float | None:
        """``Retry-After`` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - self._clock()
        return max(0.0, math.ceil(seconds)) if math.isfinite(seconds) else None


def default_sleep(seconds: float) -> None:
    time.sleep(max(0.0, seconds))
