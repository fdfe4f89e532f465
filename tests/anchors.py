"""Prune anchors for tests: a real one, signed the way retention signs it, and forged ones
written by someone who can write the database but holds no master key."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent, AuditPruneAnchor, ServerKey
from licensing.services import audit, audit_anchors, audit_checkpoints, server_keys
from licensing.services.audit import ChainHead
from licensing.timeutil import utcnow

AUDIT_DAYS = 730
OLD = utcnow().replace(microsecond=0) - timedelta(days=3 * 365)
OLD_EVENTS = 5


def old_then_new(session: Session, sealer: Sealer, *, recent: int = 3) -> int:
    """Five events past the audit period, then the signing key's creation and ``recent``
    events of today; the seq of the last old event."""
    old_events(session, OLD_EVENTS)
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    recent_events(session, recent)
    return OLD_EVENTS


def old_events(session: Session, count: int) -> None:
    """Events written (by their time) three years ago, past the audit period."""
    for number in range(count):
        audit.record(
            session,
            actor="test:audit",
            action="test.event",
            subject_type="test",
            subject_id=str(number),
            now=OLD + timedelta(minutes=number),
        )
    session.commit()


def recent_events(session: Session, count: int) -> None:
    for number in range(count):
        audit.record(
            session,
            actor="test:audit",
            action="test.event",
            subject_type="test",
            subject_id=str(number),
        )
    session.commit()


def head_of(session: Session, seq: int) -> tuple[str, datetime]:
    row = session.execute(
        select(AuditEvent.hash, AuditEvent.occurred_at).where(AuditEvent.seq == seq)
    ).one()
    return str(row[0]), row[1]


def prune_behind_real_anchor(session: Session, sealer: Sealer, seq: int) -> AuditPruneAnchor:
    """What retention does: sign the anchor with the server's key, then delete 1..seq."""
    digest, head_at = head_of(session, seq)
    anchor = audit_checkpoints.sign_prune_anchor(
        session,
        sealer,
        ChainHead(seq=seq, hash=digest, events=seq),
        head_at=head_at,
        audit_days=AUDIT_DAYS,
        issuer="licensing",
        now=utcnow(),
    )
    session.execute(delete(AuditEvent).where(AuditEvent.seq <= seq))
    session.commit()
    return anchor


def public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def forge_anchor(
    session: Session,
    seq: int,
    private: Ed25519PrivateKey,
    kid: str,
    *,
    pruned_at: datetime | None = None,
    head_at: datetime | None = None,
    audit_days: int = AUDIT_DAYS,
    claim: dict[str, object] | None = None,
) -> AuditPruneAnchor:
    """An anchor at ``seq`` signed with ``private`` under ``kid``, its events deleted.

    The anchor's claim says what the caller asks it to (by default, the truth about event
    ``seq`` and today); ``claim`` replaces it whole.
    """
    digest, written = head_of(session, seq)
    pruned_at = (pruned_at or utcnow()).replace(microsecond=0)
    signed = claim or audit_anchors.claims_of(
        seq, digest, seq, pruned_at, head_at=head_at or written, audit_days=audit_days
    )
    token = jwt.encode(
        {"iss": "licensing", "iat": int(pruned_at.timestamp()), audit_anchors.ANCHOR_CLAIM: signed},
        private,
        algorithm="EdDSA",
        headers={"kid": kid, "typ": audit_anchors.ANCHOR_TYPE},
    )
    anchor = AuditPruneAnchor(
        seq=seq, hash=digest, events=seq, pruned_at=pruned_at, kid=kid, token=token
    )
    session.add(anchor)
    session.execute(delete(AuditEvent).where(AuditEvent.seq <= seq))
    session.commit()
    return anchor


def add_unsealed_key(session: Session, sealer: Sealer) -> tuple[Ed25519PrivateKey, str]:
    """A key row written without the master key: its "sealed" private key carries the
    master key's id, which is no secret, over bytes that the master key does not open."""
    private = Ed25519PrivateKey.generate()
    kid = "forged-key"
    session.add(
        ServerKey(
            kid=kid,
            public_key=public_raw(private),
            sealed_private_key=sealer.header + os.urandom(60),
            created_at=OLD,
            retired_at=utcnow(),
        )
    )
    session.commit()
    return private, kid


def real_private_key(session: Session, sealer: Sealer) -> tuple[Ed25519PrivateKey, str]:
    """The server's own signing key (what only the master key opens)."""
    key = server_keys.signing_key(session, sealer)
    return key.private_key, key.kid
