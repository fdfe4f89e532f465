"""RFC 9421 both ways: HMAC-signed requests (PROTOCOL.md §2), Ed25519-signed answers (§3)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from licensing_client.jwks import TrustedKeys
from licensing_client.keys import LicenseKey

CALL_HOME_TAG = "licensing/v1/call-home"
RESPONSE_TAG = "licensing/v1/response"
SIGNATURE_LABEL = "sig1"
RESPONSE_ALG = "ed25519"
MAX_SKEW_SECONDS = 300
_NO_LIBRARY_TIME_CHECK = timedelta(days=365 * 100)


def new_nonce() -> str:
    """16 fresh random bytes, base64url without padding (22 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    raise TypeError("signed requests need an in-memory body")


class _SecretResolver(HTTPSignatureKeyResolver):
    def __init__(self, key: LicenseKey) -> None:
        self._key = key

    def resolve_private_key(self, key_id: str) -> bytes:
        if key_id != self._key.key_id:
            raise KeyError(key_id)
        return self._key.signing_secret


class _PinnedResolver(HTTPSignatureKeyResolver):
    def __init__(self, keys: TrustedKeys) -> None:
        self._keys = keys

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(key_id)


def sign_request(
    request: requests.PreparedRequest, key: LicenseKey, *, nonce: str, created: float
) -> None:
    """Add ``Content-Digest``, ``Signature-Input`` and ``Signature`` to ``request`` in place.

    Covers ``"@method" "@path" "content-digest"`` and, when the request has a
    ``Content-Type``, ``"content-type"``; the digest is computed over the body as sent
    (also for an empty body).
    """
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        request.headers.pop(name, None)
    components = ["@method", "@path", "content-digest"]
    if "Content-Type" in request.headers:
        components.append("content-type")
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_SecretResolver(key)
    )
    signer.sign(
        request,
        key_id=key.key_id,
        created=datetime.fromtimestamp(int(created), UTC),
        nonce=nonce,
        label=SIGNATURE_LABEL,
        tag=CALL_HOME_TAG,
        include_alg=True,
        covered_component_ids=tuple(components),
        body=body_bytes(request),
    )


class ResponseVerificationError(Exception):
    """An answer that must be ignored: it proves nothing about the server."""


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    """An answer whose signature, digest, nonce and age all checked out."""

    status: int
    body: dict[str, Any]
    request_id: str | None
    server_key_id: str
    created: int
    retry_after: str | None


def verify_response(
    response: requests.Response,
    keys: TrustedKeys,
    *,
    nonce: str,
    now: float,
    max_skew: int = MAX_SKEW_SECONDS,
) -> VerifiedAnswer:
    """Verify an answer as PROTOCOL.md §3 requires, or raise ResponseVerificationError."""
    content = response.content or b""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_PinnedResolver(keys)
    )
    # The library would compare times with the system clock; the client's own clock
    # (injectable) decides freshness below.
    verifier.max_clock_skew = _NO_LIBRARY_TIME_CHECK
    try:
        results = verifier.verify(
            response,
            max_age=None,
            expect_tag=RESPONSE_TAG,
            require_components=("@status", "content-digest"),
            body=content,
        )
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        raise ResponseVerificationError(f"response signature does not verify: {exc}") from None
    if len(results) != 1:
        raise ResponseVerificationError("more than one signature carries the response tag")
    params = results[0].parameters
    _check_parameters(params, now=now, max_skew=max_skew)
    body = _json_object(content)
    if body.get("nonce") != nonce:
        raise ResponseVerificationError("the answer does not carry the nonce of this request")
    request_id = body.get("request_id") or response.headers.get("X-Request-Id")
    return VerifiedAnswer(
        status=response.status_code,
        body=body,
        request_id=str(request_id) if request_id else None,
        server_key_id=str(params["keyid"]),
        created=int(params["created"]),
        retry_after=response.headers.get("Retry-After"),
    )


def _check_parameters(params: dict[str, int | str], *, now: float, max_skew: int) -> None:
    if params.get("alg") != RESPONSE_ALG:
        raise ResponseVerificationError(f'the response signature must carry alg="{RESPONSE_ALG}"')
    created = params.get("created")
    if not isinstance(created, int) or abs(now - created) > max_skew:
        raise ResponseVerificationError(
            f"the response signature's created is not within {max_skew} s of the local clock"
        )
    expires = params.get("expires")
    if isinstance(expires, int) and expires < now:
        raise ResponseVerificationError("the response signature has expired")


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        raise ResponseVerificationError("the answer is not JSON") from None
    if not isinstance(body, dict):
        raise ResponseVerificationError("the answer is not a JSON object")
    return body
