"""A third-party client's view of the call-home protocol (PROTOCOL.md §1-§4).

Requests are signed and answers verified only with public libraries:
``http-message-signatures`` (RFC 9421), ``hashlib``/``hmac`` for the key id, the HKDF of
§1 and the RFC 9530 digest, and PyJWT for the JWK Set and leases. Nothing here imports
the server's own crypto code, so a test that passes through this module shows that the
server speaks the contract, not merely that it agrees with itself.

The knobs of :func:`sign` make every rejection of §2 reachable: covered components,
``created``/``expires``, nonce, key id, secret, ``alg``, tag and label, the digest (wrong,
other algorithm, left out) and extra signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)

CALL_HOME_TAG = "licensing/v1/call-home"
RESPONSE_TAG = "licensing/v1/response"
LEASE_TYPE = "license-lease+jwt"
DEFAULT_COMPONENTS = ("@method", "@path", "content-digest")
CLOCK_WINDOW = 300
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# --- §1: key id and request-signing secret, written out from the contract ---------------


def normalise_key(key: str) -> str:
    """The normalised form of a license key (§1); ValueError if it is malformed."""
    if not key.isascii():
        raise ValueError("license key is not ASCII")
    text = key.upper()
    for dropped in ("-", " ", "\t"):
        text = text.replace(dropped, "")
    text = text.translate(str.maketrans("OIL", "011"))
    if len(text) != 25 or any(symbol not in _ALPHABET for symbol in text):
        raise ValueError("license key is not 25 Crockford symbols")
    check = _ALPHABET[hashlib.sha256(text[:24].encode("ascii")).digest()[0] & 0x1F]
    if text[24] != check:
        raise ValueError("license key check symbol does not match")
    return text


def key_id_of(normalised: str) -> str:
    digest = hashlib.sha256(b"license-key-id:" + normalised.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:22]


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256 (extract, then expand)."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def signing_secret_of(normalised: str) -> bytes:
    return hkdf_sha256(
        normalised.encode("ascii"), salt=b"", info=b"licensing/v1/request-signing", length=32
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an installed instance derives from its license key."""

    key_id: str
    secret: bytes

    @classmethod
    def from_license_key(cls, key: str) -> Credentials:
        normalised = normalise_key(key)
        return cls(key_id=key_id_of(normalised), secret=signing_secret_of(normalised))


# --- §2: signed requests ------------------------------------------------------------------


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """An RFC 9530 ``Content-Digest`` member: standard base64 with padding inside ``:…:``."""
    hasher = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}[algorithm]
    return f"{algorithm}=:{base64.b64encode(hasher(body).digest()).decode('ascii')}:"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class _Secret(HTTPSignatureKeyResolver):
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def resolve_private_key(self, key_id: str) -> bytes:
        return self._secret


@dataclass(slots=True)
class _Message:
    """The request as the library reads it: method, absolute URL, header dict."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    nonce: str | None
    created: int


def _algorithm(alg: str | None) -> type[algorithms.HMAC_SHA256]:
    if alg is None or alg == algorithms.HMAC_SHA256.algorithm_id:
        return algorithms.HMAC_SHA256
    # Still HMAC-SHA256 underneath: only the declared ``alg`` is wrong, so nothing but
    # the parameter can be the reason for a rejection.
    return type("RelabelledHMAC", (algorithms.HMAC_SHA256,), {"algorithm_id": alg})


def sign(
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    base_url: str = "http://localhost",
    components: Sequence[str] = DEFAULT_COMPONENTS,
    created: int | None = None,
    created_offset: int = 0,
    expires: int | None = None,
    nonce: str | None = None,
    omit_nonce: bool = False,
    key_id: str | None = None,
    secret: bytes | None = None,
    tag: str = CALL_HOME_TAG,
    label: str = "sig1",
    alg: str | None = "hmac-sha256",
    content_type: str | None = "application/json",
    digest: str | None = None,
    omit_digest: bool = False,
    extra_signatures: Sequence[tuple[str, str]] = (),
) -> SignedRequest:
    """Headers of a call-home request, signed as any RFC 9421 client would sign it.

    ``created`` defaults to now (plus ``created_offset``); ``nonce`` to 16 fresh random
    bytes; ``digest`` to the sha-256 of ``body`` (``omit_digest`` drops the header after
    signing). ``alg=None`` leaves the parameter out. ``extra_signatures`` adds one more
    signature per ``(label, tag)`` over the same components, with its own nonce.
    ``Content-Type`` is sent only with a body.
    """
    headers: dict[str, str] = {}
    if body and content_type is not None:
        headers["Content-Type"] = content_type
    headers["Content-Digest"] = digest if digest is not None else content_digest(body)
    message = _Message(method=method.upper(), url=base_url + path, headers=headers)
    created = (
        created if created is not None else int(datetime.now(UTC).timestamp()) + created_offset
    )
    used_nonce = None if omit_nonce else (nonce if nonce is not None else new_nonce())
    signer = HTTPMessageSigner(
        signature_algorithm=_algorithm(alg), key_resolver=_Secret(secret or credentials.secret)
    )
    signer.sign(
        message,
        key_id=key_id if key_id is not None else credentials.key_id,
        created=datetime.fromtimestamp(created, UTC),
        expires=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
        nonce=used_nonce,
        label=label,
        tag=tag,
        include_alg=alg is not None,
        covered_component_ids=tuple(components),
        use_existing_digest=True,
    )
    for extra_label, extra_tag in extra_signatures:
        signer.sign(
            message,
            key_id=key_id if key_id is not None else credentials.key_id,
            created=datetime.fromtimestamp(created, UTC),
            nonce=new_nonce(),
            label=extra_label,
            tag=extra_tag,
            covered_component_ids=tuple(components),
            append_if_signature_exists=True,
            use_existing_digest=True,
        )
    if omit_digest:
        del headers["Content-Digest"]
    return SignedRequest(
        method=method.upper(),
        path=path,
        body=body,
        headers=dict(headers),
        nonce=used_nonce,
        created=created,
    )


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Serialise once, send exactly those bytes (docs/protocol.md, step 1)."""
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


# --- §3: signed responses -------------------------------------------------------------------


class _Fields:
    """Header field lines as the library reads them (repeated names kept)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._pairs)

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only")


@dataclass(slots=True)
class _Response:
    status_code: int
    headers: _Fields
    request: None = None


class _Jwks(HTTPSignatureKeyResolver):
    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = jwt.PyJWKSet.from_dict(dict(jwks))

    def resolve_public_key(self, key_id: str) -> Any:
        return self._keys[key_id].key


@dataclass(frozen=True, slots=True)
class VerifiedAnswer:
    status: int
    body: dict[str, Any]
    key_id: str
    created: int
    covered: tuple[str, ...] = field(default=())


def verify_response(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    jwks: Mapping[str, Any],
    *,
    nonce: str | None,
) -> VerifiedAnswer:
    """Accept an answer only as §3 tells a client to; raise if anything is off.

    The Ed25519 signature with the response tag verifies against a key of the JWK Set,
    covers ``@status`` and ``content-digest`` (checked against the bytes received),
    ``created`` is within 300 s of our clock, and the body echoes our ``nonce`` (or has
    none when the request carried no usable nonce) and carries ``server_time``.
    """
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Jwks(jwks))
    verifier.max_clock_skew = timedelta(seconds=CLOCK_WINDOW)
    results = verifier.verify(
        _Response(status_code=status, headers=_Fields(headers)),
        max_age=timedelta(0),
        expect_tag=RESPONSE_TAG,
        require_components=("@status", "content-digest"),
        body=body,
    )
    assert len(results) == 1, "exactly one response signature"
    result = results[0]
    assert result.parameters.get("alg") == "ed25519", result.parameters
    assert result.body == body, "the digest must cover the body received"
    payload = json.loads(body)
    assert isinstance(payload, dict)
    if nonce is None:
        assert "nonce" not in payload, payload
    else:
        assert payload.get("nonce") == nonce, (payload.get("nonce"), nonce)
    server_time = payload.get("server_time")
    assert isinstance(server_time, str) and _RFC3339_UTC.match(server_time), server_time
    moment = datetime.fromisoformat(server_time.replace("Z", "+00:00"))
    assert abs((moment - datetime.now(UTC)).total_seconds()) <= CLOCK_WINDOW
    return VerifiedAnswer(
        status=status,
        body=payload,
        key_id=str(result.parameters["keyid"]),
        created=int(result.parameters["created"]),
        covered=tuple(result.covered_components),
    )


# --- §4: leases -----------------------------------------------------------------------------


def verify_lease(
    lease: str, jwks: Mapping[str, Any], *, product: str, issuer: str, fingerprint: str
) -> dict[str, Any]:
    """docs/protocol.md §5, verbatim in spirit: PyJWT and the JWK Set, nothing else."""
    header = jwt.get_unverified_header(lease)
    assert header.get("typ") == LEASE_TYPE, header
    assert header.get("alg") == "EdDSA", header
    key = jwt.PyJWKSet.from_dict(dict(jwks))[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        lease,
        key,
        algorithms=["EdDSA"],
        audience=product,
        issuer=issuer,
        options={"require": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]},
        leeway=60,
    )
    assert claims["fpr"] == fingerprint, "lease is bound to another instance"
    return claims
