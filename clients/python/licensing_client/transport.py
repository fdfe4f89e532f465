"""Sending calls, with retries: signed instance calls (verified answers only), partner calls."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.auth

from licensing_client._failures import describe_failure
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
AnswerT = TypeVar("AnswerT")


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


class _Retrying:
    """The retry loop every call shares, signed (instance) or not (partner).

    An attempt gives an answer, or a :class:`ServerUnreachableError` saying why it
    counts as none (connection error, timeout, ``429``, ``5xx``, an answer that does
    not verify); those are retried per the :class:`RetryPolicy`, the last one raised.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        policy: RetryPolicy,
        session: requests.Session | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self._timeout, self._policy = timeout, policy
        self._session = session if session is not None else requests.Session()
        self._clock, self._sleep = clock, sleep

    def _with_retries(
        self, method: str, path: str, attempt: Callable[[], AnswerT | ServerUnreachableError]
    ) -> AnswerT:
        failure: ServerUnreachableError | None = None
        for number in range(self._policy.retries + 1):
            if failure is not None:
                self._sleep(self._wait(number - 1, failure))
            outcome = attempt()
            if not isinstance(outcome, ServerUnreachableError):
                return outcome
            failure = outcome
            log.info("%s %s: attempt %d failed: %s", method, path, number + 1, failure)
            if self._policy.gives_up(failure.retry_after):
                break
        assert failure is not None
        raise failure

    def _send(self, request: requests.PreparedRequest) -> requests.Response:
        """One attempt on the wire, redirects not followed; raises RequestException."""
        return self._session.send(
            request,
            timeout=self._timeout,
            allow_redirects=False,
            **self._session.merge_environment_settings(request.url or "", {}, None, None, None),
        )

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {
            "Accept": "application/json, application/problem+json",
            "Accept-Encoding": "identity",
            "User-Agent": f"licensing-client-python/{__version__}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers

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


class Transport(_Retrying):
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
        super().__init__(
            base_url, timeout=timeout, policy=policy, session=session, clock=clock, sleep=sleep
        )
        self._key, self._keys = key, keys

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None) -> VerifiedAnswer:
        """The first verified answer that is not ``429``/``5xx``, or ServerUnreachableError."""
        body = _json_bytes(payload)
        return self._with_retries(method, path, lambda: self._attempt(method, path, body))

    def _attempt(
        self, method: str, path: str, body: bytes | None
    ) -> VerifiedAnswer | ServerUnreachableError:
        """One freshly signed attempt: a verified answer, or why it counts as none."""
        nonce = new_nonce()
        request = self._prepare(method, path, body, nonce)
        try:
            response = self._send(request)
        except requests.RequestException as exc:
            return ServerUnreachableError(describe_failure(exc, self.base_url, self._timeout))
        try:
            answer = verify_response(response, self._keys, nonce=nonce, now=self._clock())
        except ResponseVerificationError as exc:
            return UnverifiedResponseError(
                f"{method} {path}: HTTP {response.status_code} answer ignored: {exc}",
                status=response.status_code,
            )
        if answer.status == 429 or answer.status >= 500:
            return _unreachable(
                answer.status,
                answer.body,
                request_id=answer.request_id,
                retry_after=self._retry_after(answer.retry_after),
            )
        return answer

    def _prepare(
        self, method: str, path: str, body: bytes | None, nonce: str
    ) -> requests.PreparedRequest:
        request = self._session.prepare_request(
            requests.Request(method, self.base_url + path, headers=self._headers(body), data=body)
        )
        sign_request(request, self._key, nonce=nonce, created=self._clock())
        return request


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``; never shows the token in its ``repr``.

    Given as the request's ``auth``, it also keeps requests from replacing the header
    with credentials from ``~/.netrc``.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


@dataclass(frozen=True, slots=True)
class PlainAnswer:
    """An unsigned answer (partner endpoints): ``body`` is ``None`` unless a JSON object."""

    status: int
    body: dict[str, Any] | None
    request_id: str | None


class BearerTransport(_Retrying):
    """Sends partner calls with a bearer API key; the answers are not signed (§6)."""

    def __init__(
        self,
        base_url: str,
        auth: BearerAuth,
        *,
        timeout: float,
        policy: RetryPolicy,
        session: requests.Session | None,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        super().__init__(
            base_url, timeout=timeout, policy=policy, session=session, clock=clock, sleep=sleep
        )
        self._auth = auth

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None) -> PlainAnswer:
        """The first answer that is not ``429``/``5xx``, or ServerUnreachableError.

        A ``429`` after the last retry raises :class:`RateLimitedError`.
        """
        body = _json_bytes(payload)
        return self._with_retries(method, path, lambda: self._attempt(method, path, body))

    def _attempt(
        self, method: str, path: str, body: bytes | None
    ) -> PlainAnswer | ServerUnreachableError:
        request = self._session.prepare_request(
            requests.Request(
                method,
                self.base_url + path,
                headers=self._headers(body),
                data=body,
                auth=self._auth,
            )
        )
        try:
            response = self._send(request)
        except requests.RequestException as exc:
            return ServerUnreachableError(describe_failure(exc, self.base_url, self._timeout))
        header_id = response.headers.get("X-Request-Id") or None
        parsed = _json_object(response.content)
        answer_id = parsed.get("request_id") if parsed is not None else None
        request_id = answer_id if isinstance(answer_id, str) and answer_id else header_id
        if response.status_code == 429 or response.status_code >= 500:
            return _unreachable(
                response.status_code,
                parsed or {},
                request_id=request_id,
                retry_after=self._retry_after(response.headers.get("Retry-After")),
            )
        return PlainAnswer(status=response.status_code, body=parsed, request_id=request_id)


def _unreachable(
    status: int, problem: Mapping[str, Any], *, request_id: str | None, retry_after: float | None
) -> ServerUnreachableError:
    """A ``429`` (:class:`RateLimitedError`) or ``5xx`` answer: retried, then raised."""
    error = LicensingClientError.from_problem(
        status, problem, request_id=request_id, retry_after=retry_after
    )
    assert isinstance(error, ServerUnreachableError)
    return error


def _json_bytes(payload: Mapping[str, Any] | None) -> bytes | None:
    return None if payload is None else json.dumps(payload, separators=(",", ":")).encode()


def _json_object(content: bytes | None) -> dict[str, Any] | None:
    try:
        parsed = json.loads(content or b"")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def default_sleep(seconds: float) -> None:
    time.sleep(max(0.0, seconds))
