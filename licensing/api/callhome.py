"""Authentication and signing around the instance endpoints (PROTOCOL.md §2, §3)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, json, request

from licensing.crypto import httpsig
from licensing.crypto.httpsig import SignatureRejected, SignedRequest
from licensing.crypto.server_keys import SigningKey
from licensing.extensions import db
from licensing.runtime import Runtime, current
from licensing.services import server_keys
from licensing.services.callhome import CallHomeEnv
from licensing.services.license_state import LicenseState, load_license_state, load_releases
from licensing.services.replay import DatabaseReplayStore, NonceClaim, NonceReplayed
from licensing.timeutil import rfc3339

INSTANCE_PREFIX = "/v1/instance/"
CHECK_IN_ENDPOINT = "instance.check_in"
_EXCHANGE_KEY = "licensing.call_home"


@dataclass(frozen=True, slots=True)
class CallHome:
    """A request that passed the signature table: whose it is, when, and from where."""

    state: LicenseState
    now: datetime
    client_ip: str | None


@dataclass(slots=True)
class _Exchange:
    """What one request's handling learns along the way, kept with that request alone.

    (Flask's ``g`` lives as long as the application context, which a test or a CLI
    command may keep across several requests.)
    """

    call: CallHome | None = None
    nonce: str | None = None
    time: datetime | None = None
    pending_nonce: NonceClaim | None = None


def _exchange() -> _Exchange:
    exchange: _Exchange = request.environ.setdefault(_EXCHANGE_KEY, _Exchange())
    return exchange


def current_call() -> CallHome:
    """The authenticated call of the request in context."""
    call = _exchange().call
    assert call is not None, "current_call() outside an authenticated instance request"
    return call


def authenticate() -> CallHome:
    """Run the contract's rejection table in order; the nonce is used up on success."""
    runtime = current()
    now = datetime.now(UTC)
    exchange = _exchange()
    exchange.time = now
    signed = SignedRequest.build(
        method=request.method,
        url=_request_url(),
        headers=request.headers.items(),
        body=request.get_data(cache=True),
    )
    signature = httpsig.parse_call_home_signature(signed, has_query=bool(request.query_string))
    exchange.nonce = signature.nonce
    httpsig.check_content_digest(signed)
    session = db.session()
    state = runtime.licenses.get(
        signature.key_id, lambda: load_license_state(session, runtime.sealer, signature.key_id)
    )
    if state is None:
        raise SignatureRejected("UNKNOWN_KEY", "no license has this key id")
    httpsig.verify_hmac(signed, signature, state.signing_secret)
    httpsig.check_freshness(signature, now=now, skew=runtime.settings.clock_skew)
    if request.endpoint == CHECK_IN_ENDPOINT and isinstance(runtime.replay, DatabaseReplayStore):
        # The check-in uses the nonce up in the statement that writes the check-in
        # (one round trip); see settle_nonce for requests that never get that far.
        exchange.pending_nonce = runtime.replay.claim(signature.key_id, signature.nonce, now=now)
    elif not runtime.replay.accept(session, signature.key_id, signature.nonce, now=now):
        raise SignatureRejected("NONCE_REPLAYED", "this nonce was already used with this key")
    exchange.call = CallHome(
        state=state, now=now, client_ip=client_ip(runtime.settings.trusted_proxy_hops)
    )
    return exchange.call


def take_nonce() -> NonceClaim | None:
    """Hand the pending nonce to the statement that will use it up (once)."""
    exchange = _exchange()
    claim, exchange.pending_nonce = exchange.pending_nonce, None
    return claim


def settle_nonce() -> None:
    """Use up a nonce that no check-in statement took (e.g. the body was invalid, 422).

    A nonce counts as used once the signature verified and was fresh, whatever the
    outcome (§2); a replay still answers ``NONCE_REPLAYED``, before any other problem.
    """
    claim = take_nonce()
    if claim is not None and not DatabaseReplayStore.accept_with(db.session.connection(), claim):
        raise NonceReplayed()


def environment(runtime: Runtime) -> CallHomeEnv:
    session = db.session()
    return CallHomeEnv(
        sealer=runtime.sealer,
        issuer=runtime.settings.issuer,
        signing_key=lambda: _signing_key(runtime),
        releases=lambda product_id: runtime.releases.get(
            product_id, lambda: load_releases(session, product_id)
        ),
        check_ins=runtime.check_ins,
    )


def client_ip(trusted_hops: int) -> str | None:
    """The TCP peer, or the address ``trusted_hops`` proxies saw (never the client's word)."""
    address = request.environ.get("REMOTE_ADDR")
    if trusted_hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= trusted_hops:
            address = forwarded[-trusted_hops]
    try:
        parsed = ipaddress.ip_address(address) if address else None
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped  # a dual-stack listener's view of an IPv4 client
    return str(parsed) if parsed is not None else None


def echo_members() -> dict[str, Any]:
    """The members every instance answer carries: the request's nonce and the time."""
    members: dict[str, Any] = {}
    exchange = _exchange()
    nonce = exchange.nonce or httpsig.nonce_hint(request.headers.get("Signature-Input"))
    if nonce:
        members["nonce"] = nonce
    members["server_time"] = rfc3339(exchange.time or datetime.now(UTC))
    return members


def json_answer(body: dict[str, Any], status: int) -> Response:
    body.update(echo_members())
    return Response(json.dumps(body), status=status, mimetype="application/json")


def sign_instance_response(response: Response) -> Response:
    """Sign every answer under ``/v1/instance/``: successes, verdicts and problems."""
    if not request.path.startswith(INSTANCE_PREFIX):
        return response
    key = _signing_key(current())
    # A HEAD answer carries no body, so its digest is that of the empty body received.
    body = b"" if request.method == "HEAD" else response.get_data()
    headers = httpsig.sign_response(
        status=response.status_code, body=body, kid=key.kid, private_key=key.private_key
    )
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _signing_key(runtime: Runtime) -> SigningKey:
    return runtime.signing_key.get(
        "active", lambda: server_keys.signing_key(db.session(), runtime.sealer)
    )


def _request_url() -> str:
    # @path is the path exactly as sent: gunicorn and Werkzeug keep the raw request line.
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", "")
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    return f"{request.scheme}://{request.host}{raw}"
