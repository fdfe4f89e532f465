"""The prune anchor: where the audit chain begins once retention removed its oldest events.

Retention prunes only a prefix of the chain (events 1..N) and only after it recorded the
head of that prefix (seq N, its hash, how many events went) as an anchor signed with the
server's signing key, the way a checkpoint is signed (services/audit_checkpoints.py).
Verification then starts at the anchor: the first remaining event must link to its hash,
and an anchor that was edited, or written without the server's key, is reported.

This module only reads and checks anchors (the audit log verifies with it); signing is
in ``audit_checkpoints``, beside the checkpoint's signing, to keep one way of signing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import server_keys as keygen
from licensing.models import AuditPruneAnchor, ServerKey

ANCHOR_TYPE = "audit-prune-anchor+jwt"
ANCHOR_CLAIM = "audit_pruned"


def claims_of(seq: int, digest: str, events: int, pruned_at: datetime) -> dict[str, Any]:
    """What the anchor's signature covers: every column a verifier relies on."""
    return {"seq": seq, "hash": digest, "events": events, "pruned_at": _instant(pruned_at)}


def newest(session: Session) -> AuditPruneAnchor | None:
    """The anchor of the longest prefix pruned (None: the chain was never pruned)."""
    return session.scalar(select(AuditPruneAnchor).order_by(AuditPruneAnchor.seq.desc()).limit(1))


def pruned_through(session: Session) -> int:
    """The seq of the last event pruned (0: none)."""
    anchor = newest(session)
    return anchor.seq if anchor is not None else 0


def problem(session: Session, anchor: AuditPruneAnchor) -> str | None:
    """Why the anchor cannot be trusted, or None when its signature holds over its row."""
    forged = f"the prune anchor at event {anchor.seq} was altered or not signed by this server"
    try:
        header = jwt.get_unverified_header(anchor.token)
    except jwt.PyJWTError:
        return forged
    key = session.get(ServerKey, anchor.kid)
    if key is None or header.get("kid") != anchor.kid or header.get("typ") != ANCHOR_TYPE:
        return forged
    try:
        claims = jwt.decode(
            anchor.token,
            keygen.load_public(key.public_key),
            algorithms=["EdDSA"],
            options={"require": ["iat", ANCHOR_CLAIM], "verify_iat": False},
        )
    except jwt.PyJWTError:
        return forged
    expected = claims_of(anchor.seq, anchor.hash, anchor.events, anchor.pruned_at)
    if claims.get(ANCHOR_CLAIM) != expected:
        return forged
    return None


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat()
