"""The server's Ed25519 signing keys: first key, rotation, and the published JWK Set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto import server_keys as keygen
from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.models import Edition, ServerKey
from licensing.services import audit
from licensing.timeutil import utcnow

TABLE = "server_keys"
DEFAULT_LEASE_DAYS = 7


def active_key(session: Session) -> ServerKey | None:
    """The newest key that is not retired: the one that signs."""
    return session.scalar(
        select(ServerKey)
        .where(ServerKey.retired_at.is_(None))
        .order_by(ServerKey.created_at.desc())
        .limit(1)
    )


def ensure_active_key(session: Session, sealer: Sealer, *, actor: str) -> ServerKey:
    """Create the first signing key if there is none (done once at first start)."""
    return active_key(session) or _create(session, sealer, actor=actor, action="server_key.created")


def rotate(
    session: Session, sealer: Sealer, *, actor: str, now: datetime | None = None
) -> ServerKey:
    """A new signing key; the old ones stay published until their leases have expired."""
    now = now or utcnow()
    publish_until = now + timedelta(days=_longest_lease_days(session))
    for old in session.scalars(select(ServerKey).where(ServerKey.retired_at.is_(None))):
        old.retired_at = now
        old.publish_until = publish_until
    session.flush()
    return _create(session, sealer, actor=actor, action="server_key.rotated", now=now)


def list_keys(session: Session) -> Sequence[ServerKey]:
    return session.scalars(select(ServerKey).order_by(ServerKey.created_at.desc())).all()


def jwks(session: Session, *, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    """The JWK Set: the signing key and every retired key a client may still meet."""
    now = now or utcnow()
    return {
        "keys": [
            keygen.public_jwk(key.kid, key.public_key)
            for key in list_keys(session)
            if key.is_published(now)
        ]
    }


def signing_key(session: Session, sealer: Sealer) -> SigningKey:
    key = active_key(session)
    if key is None:
        raise RuntimeError("no server signing key: run `licensing keys rotate` or start the server")
    private_raw = sealer.open(key.sealed_private_key, table=TABLE, row_id=key.kid)
    return SigningKey(kid=key.kid, private_key=keygen.load_private(private_raw))


def _create(
    session: Session, sealer: Sealer, *, actor: str, action: str, now: datetime | None = None
) -> ServerKey:
    generated = keygen.generate()
    key = ServerKey(
        kid=generated.kid,
        public_key=generated.public_raw,
        sealed_private_key=sealer.seal(generated.private_raw, table=TABLE, row_id=generated.kid),
        created_at=now or utcnow(),
    )
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action=action, subject_type="server_key", subject_id=key.kid)
    return key


def _longest_lease_days(session: Session) -> int:
    """A lease lives at most its edition's offline grace, so this bounds every open lease."""
    longest = session.scalar(select(func.max(Edition.offline_grace_days)))
    return max(longest or 0, DEFAULT_LEASE_DAYS)
