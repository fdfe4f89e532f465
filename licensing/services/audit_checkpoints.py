"""Signed checkpoints of the audit chain's head, so that a chain cut short is detectable.

The hash chain shows that no event was altered, removed or inserted before the newest
one, but removing the newest events leaves a shorter chain whose links all hold. A
checkpoint records the head (seq, hash, event count) as an EdDSA JWT signed with the
server's signing key; kept away from the database, it lets ``verify`` prove that the
chain still reaches that head unchanged. Its ``typ`` differs from a lease's, and it
carries no ``aud`` or ``sub``, so neither token can be taken for the other.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy.orm import Session

from licensing.crypto import server_keys as keygen
from licensing.crypto.encoding import b64url_decode
from licensing.crypto.sealing import Sealer
from licensing.errors import ConfigError, Conflict, InvalidRequest
from licensing.models import AuditPruneAnchor, ServerKey
from licensing.services import audit, audit_anchors, server_keys
from licensing.services.audit import ChainHead

CHECKPOINT_TYPE = "audit-checkpoint+jwt"
HEAD_CLAIM = "audit_head"
FILE_PREFIX = "audit-checkpoint-"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    head: ChainHead
    issued_at: datetime
    kid: str
    token: str
    source: Path | None = None  # the file it was read from


class CheckpointInvalid(InvalidRequest):
    """A checkpoint that is not one, or whose signature does not verify."""

    code = "CHECKPOINT_INVALID"


def issue(
    session: Session,
    sealer: Sealer,
    *,
    issuer: str,
    now: datetime,
    previous: Checkpoint | None = None,
    incremental: bool = False,
) -> Checkpoint:
    """Sign the chain's current head. Writes no audit event: that would move the head.

    A signature vouches for the chain, so the chain is verified first: the whole of it,
    or (``incremental``) only from the ``previous`` checkpoint on, which must still be in
    the chain unchanged. A chain cut short and grown again, or altered, is never signed.
    """
    head = audit.head(session)
    # Events up to the prune anchor may be gone (retention), never any after it.
    if head.seq - head.events > audit_anchors.pruned_through(session):
        raise Conflict(
            f"the audit chain has {head.events} events up to event {head.seq}: "
            "it is broken, run `licensing audit verify`"
        )
    report = audit.verify(
        session,
        checkpoint=previous.head if previous else None,
        since=previous.head if previous and incremental else None,
        sealer=sealer,
    )
    if not report.intact:
        against = f" --checkpoint {previous.source}" if previous and previous.source else ""
        raise Conflict(
            f"refusing to sign the audit chain: {report.problem}; "
            f"run `licensing audit verify{against}`"
        )
    issued = int(now.timestamp())
    head_claim = {"seq": head.seq, "hash": head.hash, "events": head.events}
    token, kid = _sign(
        session,
        sealer,
        issuer=issuer,
        issued=issued,
        claim=(HEAD_CLAIM, head_claim),
        typ=CHECKPOINT_TYPE,
    )
    return Checkpoint(head, datetime.fromtimestamp(issued, UTC), kid, token)


def sign_prune_anchor(
    session: Session,
    sealer: Sealer,
    head: ChainHead,
    *,
    head_at: datetime,
    audit_days: int,
    issuer: str,
    now: datetime,
) -> AuditPruneAnchor:
    """Sign the head of the prefix retention is about to prune (added, not committed).

    ``head.events`` counts every event pruned up to ``head.seq``, over every run;
    ``head_at`` is when event ``head.seq`` was written and ``audit_days`` the period it is
    pruned under, so that verification can refuse an anchor of events still inside it.
    The caller verifies the chain up to the head first: a broken chain is never anchored.
    """
    pruned_at = now.replace(microsecond=0)
    if not audit_anchors.within_period(head_at, audit_days, pruned_at):
        raise Conflict(f"event {head.seq} is not past the audit period: it cannot be pruned")
    claim = audit_anchors.claims_of(
        head.seq, head.hash, head.events, pruned_at, head_at=head_at, audit_days=audit_days
    )
    token, kid = _sign(
        session,
        sealer,
        issuer=issuer,
        issued=int(now.timestamp()),
        claim=(audit_anchors.ANCHOR_CLAIM, claim),
        typ=audit_anchors.ANCHOR_TYPE,
    )
    anchor = AuditPruneAnchor(
        seq=head.seq, hash=head.hash, events=head.events, pruned_at=pruned_at, kid=kid, token=token
    )
    session.add(anchor)
    session.flush()
    return anchor


def _sign(
    session: Session,
    sealer: Sealer,
    *,
    issuer: str,
    issued: int,
    claim: tuple[str, Mapping[str, Any]],
    typ: str,
) -> tuple[str, str]:
    """An EdDSA JWT of ``claim`` (name, value) by the server's signing key, and its kid."""
    key = server_keys.signing_key(session, sealer)
    name, value = claim
    token = jwt.encode(
        {"iss": issuer, "iat": issued, name: dict(value)},
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": typ},
    )
    return token, key.kid


def read(session: Session, token: str, *, trusted: Mapping[str, bytes] | None = None) -> Checkpoint:
    """Check a checkpoint's signature against every key the server ever had (retired too).

    ``trusted`` (kid -> raw public key, from a JWK Set kept apart from the database)
    replaces the database's keys: someone who can write to the database can add a key.
    """
    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise CheckpointInvalid("not an audit checkpoint (not a signed token)") from None
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise CheckpointInvalid("not an audit checkpoint (no kid)")
    public_raw = _public_key(session, kid, trusted)
    if public_raw is None:
        where = "the given JWK Set" if trusted is not None else "this server"
        raise CheckpointInvalid(f"checkpoint signed by a key {where} never had")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            keygen.load_public(public_raw),
            algorithms=["EdDSA"],
            options={"require": ["iat", HEAD_CLAIM], "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise CheckpointInvalid("checkpoint signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise CheckpointInvalid(f"not an audit checkpoint ({exc})") from None
    # typ is in the signed header: only now is it worth believing.
    if header.get("typ") != CHECKPOINT_TYPE:
        raise CheckpointInvalid(f"not an audit checkpoint (typ {header.get('typ')!r})")
    return Checkpoint(_head(claims[HEAD_CLAIM]), _issued_at(claims["iat"]), kid, token)


def trusted_keys(jwks: object) -> dict[str, bytes]:
    """The Ed25519 keys of a JWK Set (``/.well-known/jwks.json``), by kid."""
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise CheckpointInvalid("not a JWK Set (no keys list)")
    keys: dict[str, bytes] = {}
    for entry in entries:
        if not isinstance(entry, dict) or (entry.get("kty"), entry.get("crv")) != (
            "OKP",
            "Ed25519",
        ):
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if isinstance(kid, str) and isinstance(x, str):
            try:
                keys[kid] = b64url_decode(x)
            except (binascii.Error, ValueError):
                keys[kid] = b""
            if len(keys[kid]) != 32:
                raise CheckpointInvalid(f"JWK Set key {kid!r} is not an Ed25519 public key")
    return keys


def write_to_directory(
    session: Session, sealer: Sealer, directory: Path, *, issuer: str, now: datetime
) -> int:
    """The periodic job: one file per head, so a second run (or host) finds it written.

    Returns 1 when it wrote a checkpoint, 0 when this head already has one or when no
    signing key exists yet (no server has started: there is nothing to vouch for).
    """
    if server_keys.active_key(session) is None:
        return 0
    previous = newest_in_directory(session, directory)
    if previous is not None and previous.head == audit.head(session):
        return 0
    # Verified from the previous checkpoint on: each run walks only the newer events.
    checkpoint = issue(session, sealer, issuer=issuer, now=now, previous=previous, incremental=True)
    path = directory / f"{FILE_PREFIX}{checkpoint.head.seq:012d}.jwt"
    try:
        return 1 if write_file(path, checkpoint.token, replace=False) else 0
    except OSError as exc:
        raise ConfigError(
            f"cannot write audit checkpoints to {directory} ({exc.strerror or exc}): "
            "check LICENSING_AUDIT_CHECKPOINT_DIR"
        ) from None


def newest_in_directory(session: Session, directory: Path) -> Checkpoint | None:
    """The checkpoint of the highest head written to ``directory`` (None: none yet)."""
    try:
        paths = sorted(directory.glob(f"{FILE_PREFIX}*.jwt"))
    except OSError:
        return None  # an unusable directory is reported when the new checkpoint is written
    if not paths:
        return None
    path = paths[-1]
    try:
        token = path.read_text(encoding="ascii", errors="replace")
        return dataclasses.replace(read(session, token), source=path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror or exc})") from None
    except CheckpointInvalid as exc:
        raise Conflict(f"refusing to sign the audit chain: {path}: {exc.detail}") from None


def write_file(path: Path, token: str, *, replace: bool) -> bool:
    """Write a checkpoint owner-only (0600), whole or not at all; False if kept as it was."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        if replace:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)  # fails if another run wrote this head first
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _public_key(session: Session, kid: str, trusted: Mapping[str, bytes] | None) -> bytes | None:
    if trusted is not None:
        return trusted.get(kid)
    key = session.get(ServerKey, kid)
    return key.public_key if key is not None else None


def _head(value: object) -> ChainHead:
    if not isinstance(value, dict):
        raise CheckpointInvalid(f"not an audit checkpoint ({HEAD_CLAIM} is not an object)")
    seq, digest, events = value.get("seq"), value.get("hash"), value.get("events")
    if not (
        isinstance(seq, int)
        and isinstance(events, int)
        and isinstance(digest, str)
        and seq >= 0
        and len(digest) == 64
    ):
        raise CheckpointInvalid(f"not an audit checkpoint ({HEAD_CLAIM} is malformed)")
    return ChainHead(seq=seq, hash=digest, events=events)


def _issued_at(value: object) -> datetime:
    if not isinstance(value, int):
        raise CheckpointInvalid("not an audit checkpoint (iat is not a number)")
    return datetime.fromtimestamp(value, UTC)
