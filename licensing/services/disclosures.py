"""The disclosure log: what partners were told about which license, and why.

Each entry names the fields of the answer actually sent, so the log shows exactly what
left the system (data protection: a record of disclosures to third parties).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import Disclosure


def record(
    session: Session,
    *,
    partner_id: uuid.UUID,
    partner_key_id: str,
    partner_kind: str,
    license_id: uuid.UUID,
    answer: Mapping[str, Mapping[str, Any]],
    purpose: str,
    request_id: str,
    now: datetime,
) -> Disclosure:
    """Log an answer about a license: every ``section.field`` it carries."""
    disclosure = Disclosure(
        partner_id=partner_id,
        license_id=license_id,
        partner_key_id=partner_key_id,
        fields=disclosed_fields(answer),
        purpose=purpose,
        request_id=request_id,
        disclosed_at=now,
        details={"partner_kind": partner_kind},
    )
    session.add(disclosure)
    session.flush()
    return disclosure


def disclosed_fields(answer: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The answer's fields as the log names them, ``license.status`` and the like."""
    return [f"{section}.{name}" for section, fields in answer.items() for name in fields]


def list_disclosures(
    session: Session,
    *,
    partner_id: uuid.UUID | None = None,
    license_id: uuid.UUID | None = None,
    since: datetime | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Sequence[Disclosure]:
    """Disclosures, newest first, of one partner or license or since a moment.

    ``offset`` skips that many of the newest: a page further back.
    """
    query = select(Disclosure).order_by(Disclosure.disclosed_at.desc(), Disclosure.id.desc())
    if partner_id is not None:
        query = query.where(Disclosure.partner_id == partner_id)
    if license_id is not None:
        query = query.where(Disclosure.license_id == license_id)
    if since is not None:
        query = query.where(Disclosure.disclosed_at >= since)
    return session.scalars(query.limit(limit).offset(offset)).all()
