"""The prune anchor: where the audit chain begins once retention removed its oldest events.

Retention prunes only a prefix of the chain (events 1..N) and only after it recorded the
head of that prefix (seq N, its hash, how many events went) as an anchor signed with the
server's signing key, the way a checkpoint is signed (services/audit_checkpoints.py).
Verification then starts at the anchor: the first remaining event must link to its hash,
and an anchor that was edited, or written without the server's key, is reported.

An anchor stands for the deletion of events, so the database alone must not be able to
vouch for it: someone who can write the database can add a key row and sign with it.
The anchor is checked with keys from outside the database (a saved JWK Set) when given;
otherwise only with a key whose private half opens under the master key, which a writer
of the database does not hold. Its token also says when event N was written and under
which audit period it went: an anchor of events younger than that period, dated in the
future, or signed by a key created after it, is refused.

This module only reads and checks anchors (the audit log verifies with it); signing is
in ``audit_checkpoints``, beside the checkpoint's signing, to keep one way of signing.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import server_keys as keygen
from licensing.crypto.sealing import SealBroken, Sealer
from licensing.models import AuditPruneAnchor, ServerKey
from licensing.privacy.categories import AUDIT_DAYS
from licensing.timeutil import utcnow

ANCHOR_TYPE = "audit-prune-anchor+jwt"
ANCHOR_CLAIM = "audit_pruned"
# Hosts sharing a database may disagree on the time by a little; more than this is a lie.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """The verdict on an anchor: why it cannot be trusted (None: it holds), and how far
    the keys it was checked with can be trusted (None: nothing to add)."""

    problem: str | None
    note: str | None = None


def claims_of(
    seq: int,
    digest: str,
    events: int,
    pruned_at: datetime,
    *,
    head_at: datetime,
    audit_days: int,
) -> dict[str, Any]:
    """What the anchor's signature covers: every column a verifier relies on, when event
    ``seq`` was written and the audit period it was pruned under."""
    return {
        "seq": seq,
        "hash": digest,
        "events": events,
        "pruned_at": _instant(pruned_at),
        "head_at": _instant(head_at),
        "audit_days": audit_days,
    }


def newest(session: Session) -> AuditPruneAnchor | None:
    """The anchor of the longest prefix pruned (None: the chain was never pruned)."""
    return session.scalar(select(AuditPruneAnchor).order_by(AuditPruneAnchor.seq.desc()).limit(1))


def pruned_through(session: Session) -> int:
    """The seq of the last event pruned (0: none)."""
    anchor = newest(session)
    return anchor.seq if anchor is not None else 0


def within_period(head_at: datetime, audit_days: int, pruned_at: datetime) -> bool:
    """Whether event N, written at ``head_at``, was past the audit period at ``pruned_at``."""
    return head_at + timedelta(days=audit_days) <= pruned_at


def check(
    session: Session,
    anchor: AuditPruneAnchor,
    *,
    trusted: Mapping[str, bytes] | None = None,
    sealer: Sealer | None = None,
    now: datetime | None = None,
) -> AnchorCheck:
    """Check the anchor's signature, its key, and that what it pruned was past the period.

    ``trusted`` (kid -> raw public key, from a JWK Set kept apart from the database)
    replaces the database's keys. Without it, the key must be a row of ``server_keys``
    whose sealed private key opens under ``sealer`` (the master key) and is the row's
    public key; with neither, the row's public key is all there is, and the note says so.
    """
    forged = f"the prune anchor at event {anchor.seq} was altered or not signed by this server"
    key = session.get(ServerKey, anchor.kid)
    public_raw, refused, note = _public_key(anchor, key, trusted, sealer)
    if refused is not None:
        return AnchorCheck(refused)
    signed = _signed_claim(anchor, public_raw)
    if signed is None:
        return AnchorCheck(forged)
    timing = _timing(anchor, signed)
    if isinstance(timing, str):
        return AnchorCheck(timing)
    head_at, audit_days = timing
    expected = claims_of(
        anchor.seq,
        anchor.hash,
        anchor.events,
        anchor.pruned_at,
        head_at=head_at,
        audit_days=audit_days,
    )
    if signed != expected:
        return AnchorCheck(forged)
    late = _dating_problem(anchor, key, head_at, audit_days, now or utcnow())
    return AnchorCheck(late, note if late is None else None)


def _signed_claim(anchor: AuditPruneAnchor, public_raw: bytes | None) -> dict[str, Any] | None:
    """The anchor's claim if its token is an anchor's, signed by ``public_raw`` (None: not)."""
    try:
        header = jwt.get_unverified_header(anchor.token)
    except jwt.PyJWTError:
        return None
    if public_raw is None or header.get("kid") != anchor.kid or header.get("typ") != ANCHOR_TYPE:
        return None
    try:
        claims = jwt.decode(
            anchor.token,
            keygen.load_public(public_raw),
            algorithms=["EdDSA"],
            options={"require": ["iat", ANCHOR_CLAIM], "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError):
        return None
    signed = claims.get(ANCHOR_CLAIM)
    return signed if isinstance(signed, dict) else None


def _public_key(
    anchor: AuditPruneAnchor,
    key: ServerKey | None,
    trusted: Mapping[str, bytes] | None,
    sealer: Sealer | None,
) -> tuple[bytes | None, str | None, str | None]:
    """The public key to check the anchor with, why none is acceptable, and a note."""
    where = f"the prune anchor at event {anchor.seq}"
    if trusted is not None:
        public_raw = trusted.get(anchor.kid)
        if public_raw is None:
            return None, f"{where} was signed by a key the given JWK Set never had", None
        return public_raw, None, None
    if key is None:
        return None, None, None
    if sealer is None:
        return key.public_key, None, _own_keys(where, " only")
    public_raw = _sealed_public_key(key, sealer)
    if public_raw is None:
        not_ours = (
            f"{where} was signed by key {anchor.kid}, which this server did not create: "
            "its private key does not open under the master key"
        )
        return None, not_ours, None
    return public_raw, None, _own_keys(where, " (its private key opens under the master key)")


def _own_keys(where: str, how: str) -> str:
    return (
        f"{where} was checked against the database's own keys{how}; `licensing audit verify "
        "--jwks` checks it against a saved JWK Set, kept apart from the database"
    )


def _sealed_public_key(key: ServerKey, sealer: Sealer) -> bytes | None:
    """The public half of the key's sealed private key, if that opens under the master key
    and matches the row: only the server, holding the master key, can seal a key."""
    try:
        # Sealed as services/server_keys seals it (its TABLE is the table's name); that
        # module is not imported here, since it records audit events itself.
        private_raw = sealer.open(
            key.sealed_private_key, table=ServerKey.__tablename__, row_id=key.kid
        )
        private = keygen.load_private(private_raw)
    except (SealBroken, ValueError):
        return None
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    # A row whose public key was swapped for another keeps a private key that opens.
    if not hmac.compare_digest(public_raw, key.public_key):
        return None
    return public_raw


def _timing(anchor: AuditPruneAnchor, signed: Mapping[str, Any]) -> tuple[datetime, int] | str:
    """When event N was written and the period it went under, from the signed claim."""
    undated = (
        f"the prune anchor at event {anchor.seq} does not say when event {anchor.seq} was "
        "written or under which audit period it was pruned"
    )
    head_at, audit_days = signed.get("head_at"), signed.get("audit_days")
    if not isinstance(head_at, str) or not isinstance(audit_days, int):
        return undated
    try:
        written = datetime.fromisoformat(head_at)
    except ValueError:
        return undated
    if written.tzinfo is None:
        return undated
    return written.astimezone(UTC), audit_days


def _dating_problem(
    anchor: AuditPruneAnchor,
    key: ServerKey | None,
    head_at: datetime,
    audit_days: int,
    now: datetime,
) -> str | None:
    """Why the anchor's dates cannot be true of a prune retention made, or None."""
    where = f"the prune anchor at event {anchor.seq}"
    if anchor.pruned_at > now + CLOCK_SKEW:
        return f"{where} is dated {_instant(anchor.pruned_at)}, in the future"
    if audit_days < AUDIT_DAYS.minimum:
        return f"{where} claims an audit period of {audit_days} days, below the least allowed"
    if not within_period(head_at, audit_days, anchor.pruned_at):
        return (
            f"{where} pruned events younger than the audit period: event {anchor.seq} was "
            f"written on {_instant(head_at)}, less than {audit_days} days before the prune "
            f"on {_instant(anchor.pruned_at)}"
        )
    if key is not None and key.created_at > anchor.pruned_at + CLOCK_SKEW:
        return f"{where} was signed by key {anchor.kid}, created after the prune"
    return None


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat()
