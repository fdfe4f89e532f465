"""A partner key's state, and revoking one only through its own partner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import NotFound
from licensing.models import PartnerKey
from licensing.services import partners
from tests.factories import make_partner, make_partner_key

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "revoked_at", "state"),
    [
        (None, None, "active"),
        (NOW + timedelta(seconds=1), None, "active"),
        (NOW, None, "expired"),
        (None, NOW - timedelta(days=1), "revoked"),
        (NOW - timedelta(days=1), NOW - timedelta(days=2), "revoked"),
    ],
)
def test_a_key_is_revoked_expired_or_active(
    expires_at: datetime | None, revoked_at: datetime | None, state: str
) -> None:
    key = PartnerKey(key_id="k", expires_at=expires_at, revoked_at=revoked_at)
    assert partners.key_state(key, NOW) == state


def test_a_key_is_revoked_only_through_its_own_partner(session: Session, sealer: Sealer) -> None:
    owner, stranger = make_partner(session), make_partner(session)
    key = make_partner_key(session, sealer, partner=owner).key
    with pytest.raises(NotFound, match="of"):
        partners.revoke_key(session, key.key_id, partner=stranger, actor="test:pytest")
    assert key.revoked_at is None
    partners.revoke_key(session, key.key_id, partner=owner, actor="test:pytest", now=NOW)
    assert key.revoked_at == NOW
