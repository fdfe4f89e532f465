"""RFC 9421 / RFC 9530 glue for the call-home protocol (PROTOCOL.md §2, §3).

Request verification is split into the steps of the contract's rejection table so each
failure answers its own code, in the contract's order: the structure is checked here,
the cryptography by ``http-message-signatures``. Responses are signed with Ed25519 by
the same library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_sf.compat import Dictionary, InnerList, Item

from licensing.errors import LicensingError

CALL_HOME_TAG = "licensing/v1/call-home"
RESPONSE_TAG = "licensing/v1/response"
RESPONSE_LABEL = "sig"
REQUIRED_COMPONENTS = frozenset({"@method", "@path", "content-digest"})
_PARAMETERS = frozenset({"alg", "created", "expires", "keyid", "nonce", "tag"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_SIGNATURE_FIELDS = frozenset({"signature-input", "signature"})


class SignatureRejected(LicensingError):
    """A call-home request failing the contract's signature table (always 401)."""

    status = 401
    code = "SIGNATURE_INVALID"
    title = "Request signature rejected"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


@dataclass(frozen=True, slots=True)
class CallHomeSignature:
    """The one signature with the call-home tag, structurally valid."""

    label: str
    key_id: str
    nonce: str
    created: int
    expires: int | None
    components: tuple[str, ...]
    # (Signature-Input, Signature) holding this signature alone, when others came with it.
    isolated: tuple[str, str] | None = None
    # Both headers as parsed for the structural checks, handed to the library so that it
    # does not parse them again; None when a label repeats (the library refuses that).
    parsed: Mapping[str, dict[str, Any]] | None = field(default=None, compare=False, repr=False)


class _Headers:
    """A minimal header view over ``(name, value)`` pairs, as the library reads them."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def items(self) -> Iterable[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._pairs)

    def get(self, name: str) -> str | None:
        values = [v for n, v in self._pairs if n.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass(slots=True)
class SignedRequest:
    """What verification needs of an HTTP request; the library reads these attributes."""

    method: str
    url: str
    headers: _Headers
    body: bytes

    @classmethod
    def build(
        cls, *, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> SignedRequest:
        return cls(method=method.upper(), url=url, headers=_Headers(headers), body=body)


class _SecretResolver(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, secret: bytes) -> None:
        self._key_id, self._secret = key_id, secret

    def resolve_public_key(self, key_id: str) -> bytes | None:
        return self._secret if hmac.compare_digest(key_id, self._key_id) else None

    def resolve_private_key(self, key_id: str) -> bytes:
        raise NotImplementedError


def parse_call_home_signature(request: SignedRequest, *, has_query: bool) -> CallHomeSignature:
    """Find the one call-home signature: ``SIGNATURE_MISSING`` or ``SIGNATURE_MALFORMED``."""
    raw_input, raw_signature = (
        request.headers.get("Signature-Input"),
        request.headers.get("Signature"),
    )
    if not raw_input or not raw_signature:
        raise SignatureRejected("SIGNATURE_MISSING", "the request carries no RFC 9421 signature")
    repeated: list[str] = []
    try:
        inputs = _dictionary(raw_input, repeated=repeated)
        signatures = _dictionary(raw_signature, repeated=repeated)
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureRejected(
            "SIGNATURE_MALFORMED", f"Signature headers are not RFC 8941 dictionaries: {exc}"
        ) from None
    tagged = [
        label
        for label, (_, params) in inputs.items()
        if isinstance(params, dict) and params.get("tag") == CALL_HOME_TAG
    ]
    if not tagged:
        raise SignatureRejected("SIGNATURE_MISSING", f'no signature carries tag="{CALL_HOME_TAG}"')
    if len(tagged) > 1:
        raise SignatureRejected(
            "SIGNATURE_MALFORMED", "more than one signature carries the call-home tag"
        )
    label = tagged[0]
    members, params = inputs[label]
    problem = _structure_problem(label, members, params, signatures, has_query=has_query)
    if problem:
        raise SignatureRejected("SIGNATURE_MALFORMED", problem)
    return CallHomeSignature(
        label=label,
        key_id=params["keyid"],
        nonce=params["nonce"],
        created=params["created"],
        expires=params.get("expires"),
        components=tuple(name for name, _ in members),
        isolated=None
        if len(inputs) == 1 and len(signatures) == 1
        else (
            http_sf.ser({label: inputs[label]}),
            http_sf.ser({label: signatures[label]}),
        ),
        parsed=None if repeated else {"Signature-Input": inputs, "Signature": signatures},
    )


def nonce_hint(signature_input: str | None) -> str | None:
    """The call-home signature's nonce if it can be read at all (echoed in answers)."""
    if not signature_input:
        return None
    try:
        inputs = _dictionary(signature_input)
    except (ValueError, UnicodeEncodeError):
        return None
    for _, params in inputs.values():
        if isinstance(params, dict) and params.get("tag") == CALL_HOME_TAG:
            nonce = params.get("nonce")
            if isinstance(nonce, str) and _NONCE.match(nonce):
                return nonce
    return None


def _dictionary(value: str, *, repeated: list[str] | None = None) -> dict[str, Any]:
    """An RFC 8941 dictionary: label -> (value, parameters); the last of a repeated label
    wins, and ``repeated`` (if given) is told each label that came again."""

    def on_duplicate(key: str, context: str) -> None:
        if context == "dictionary" and repeated is not None:
            repeated.append(key)

    parsed: Any = http_sf.parse(
        value.encode("latin-1"), tltype="dictionary", on_duplicate_key=on_duplicate
    )
    return dict(parsed)


def _library_dictionary(parsed: Mapping[str, Any]) -> Dictionary:
    """A parsed dictionary in the library's structures, as its own parser builds them
    (``HTTPSignatureHandler._parse_signature_dictionary``)."""
    result = Dictionary()
    for label, (member, params) in parsed.items():
        node: Item | InnerList
        if isinstance(member, list):
            node = InnerList()
            for bare_value, item_params in member:
                item = Item(bare_value)
                item.params.update(item_params)
                node.append(item)
        else:
            node = Item(member)
        node.params.update(params)
        result[label] = node
    return result


def _structure_problem(  # noqa: PLR0911 - one return per rule of the contract
    label: str,
    members: Any,
    params: dict[str, Any],
    signatures: Mapping[str, Any],
    *,
    has_query: bool,
) -> str | None:
    if not isinstance(members, list):
        return "Signature-Input must hold an inner list of components"
    if label not in signatures or not isinstance(signatures[label][0], bytes):
        return f'Signature has no byte sequence for label "{label}"'
    names = [name for name, _ in members]
    if not all(isinstance(name, str) for name in names):
        return "covered components must be strings"
    missing = sorted((REQUIRED_COMPONENTS | ({"@query"} if has_query else set())) - set(names))
    if missing:
        return "the signature must cover " + ", ".join(f'"{name}"' for name in missing)
    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        return "unknown signature parameters: " + ", ".join(unknown)
    for name in ("created", "expires"):
        if name in params and type(params[name]) is not int:
            return f"{name} must be an integer number of seconds"
    if "created" not in params:
        return "the created parameter is required"
    if not isinstance(params.get("keyid"), str) or not params["keyid"]:
        return "the keyid parameter is required"
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        return "nonce must be 16-128 characters of the base64url alphabet, without padding"
    if "alg" in params and params["alg"] != "hmac-sha256":
        return 'alg must be "hmac-sha256"'
    return None


def check_content_digest(request: SignedRequest) -> None:
    """RFC 9530: a ``sha-256`` digest of the body received (and ``sha-512`` if sent)."""
    field = request.headers.get("Content-Digest")
    if not field:
        raise SignatureRejected("DIGEST_MISMATCH", "Content-Digest is missing")
    try:
        digests = _dictionary(field)
    except (ValueError, UnicodeEncodeError):
        raise SignatureRejected("DIGEST_MISMATCH", "Content-Digest does not parse") from None
    if "sha-256" not in digests:
        raise SignatureRejected("DIGEST_MISMATCH", "Content-Digest has no sha-256 member")
    for algorithm, (value, _) in digests.items():
        if algorithm in _DIGESTS and (
            not isinstance(value, bytes)
            or not hmac.compare_digest(value, _DIGESTS[algorithm](request.body).digest())
        ):
            raise SignatureRejected(
                "DIGEST_MISMATCH", f"Content-Digest {algorithm} is not the body's"
            )


class _CryptographyOnly(HTTPMessageVerifier):
    """Freshness is the next step of the contract's table, with its own code
    (``SIGNATURE_STALE``, :func:`check_freshness`): the library checks no time at all.

    The signature headers it reads are the ones the structural checks parsed already
    (``parsed``), with the same parser; any other header it parses itself.
    """

    parsed: Mapping[str, Mapping[str, Any]] = {}

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None

    def _parse_dict_header(self, header_name: str, headers: Any) -> Any:
        parsed = self.parsed.get(header_name)
        if parsed is None:
            return super()._parse_dict_header(header_name, headers)  # type: ignore[no-untyped-call]
        return _library_dictionary(parsed)


def verify_hmac(request: SignedRequest, signature: CallHomeSignature, secret: bytes) -> None:
    """Verify the HMAC over the RFC 9421 signature base: ``SIGNATURE_INVALID``."""
    verifier = _CryptographyOnly(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=_SecretResolver(signature.key_id, secret),
    )
    if signature.isolated is None and signature.parsed is not None:
        verifier.parsed = signature.parsed
    # The library reads only the signature headers and the fields the signature covers,
    # but normalises every header it is given, several times: it is given those alone.
    shown = {name.lower() for name in signature.components} | _SIGNATURE_FIELDS
    headers = [(n, v) for n, v in request.headers.items() if n.lower() in shown]
    if signature.isolated is not None:
        # Signatures with other tags are ignored (§2): the library, which checks every
        # label it is shown, sees the call-home one alone, so a foreign one cannot fail it.
        headers = [
            *((n, v) for n, v in headers if n.lower() not in _SIGNATURE_FIELDS),
            *zip(("Signature-Input", "Signature"), signature.isolated, strict=True),
        ]
    ours = SignedRequest.build(
        method=request.method, url=request.url, headers=headers, body=request.body
    )
    try:
        verifier.verify(ours, max_age=None, expect_tag=CALL_HOME_TAG, expect_label=signature.label)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise SignatureRejected(
            "SIGNATURE_INVALID", f"the signature does not verify: {exc}"
        ) from None


def check_freshness(signature: CallHomeSignature, *, now: datetime, skew: int) -> None:
    """``created`` within ±skew seconds (inclusive) and ``expires``, if any, not passed."""
    now_seconds = int(now.timestamp())
    if abs(now_seconds - signature.created) > skew:
        raise SignatureRejected(
            "SIGNATURE_STALE",
            f"created is {now_seconds - signature.created} s from server time (window ±{skew} s)",
        )
    if signature.expires is not None and signature.expires < now_seconds:
        raise SignatureRejected("SIGNATURE_STALE", "the signature has expired")


def sign_response(
    *,
    status: int,
    body: bytes,
    kid: str,
    private_key: Ed25519PrivateKey,
    now: datetime | None = None,
) -> dict[str, str]:
    """Ed25519 response signature (PROTOCOL.md §3): the headers to add to the response.

    The signature base of a response is three fixed lines (RFC 9421 §2.5), so it is
    written out here rather than run through the library's general machinery, which
    costs several times more on every answer. Interop tests verify the result with the
    library's verifier.
    """
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"
    created = int((now or datetime.now(UTC)).timestamp())
    params = (
        f'("@status" "content-digest");created={created};keyid="{kid}";'
        f'alg="ed25519";tag="{RESPONSE_TAG}"'
    )
    base = f'"@status": {status}\n"content-digest": {digest}\n"@signature-params": {params}'
    signature = base64.b64encode(private_key.sign(base.encode("ascii"))).decode("ascii")
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{RESPONSE_LABEL}={params}",
        "Signature": f"{RESPONSE_LABEL}=:{signature}:",
    }
