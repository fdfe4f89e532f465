"""Finding a case or an exception by the reference staff type: its id or a unique prefix."""

from __future__ import annotations

import re
import uuid
from typing import TypeVar

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, NotFound
from licensing.models.misuse import MisuseCase, MisuseException

Record = TypeVar("Record", MisuseCase, MisuseException)
# Eight hex digits make a collision among a few thousand cases unlikely; fewer would not.
SHORTEST_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")


def by_prefix(
    session: Session, model: type[Record], reference: str, *, noun: str, for_update: bool = False
) -> Record:
    """The record whose id is ``reference`` or starts with it (dashes optional).

    ``for_update``: lock the row until the transaction ends (``SELECT ... FOR UPDATE`` on
    PostgreSQL; SQLite has one writer at a time) and read it afresh, for an action that
    reads the record and then changes it.
    """
    text = reference.strip().lower().replace("-", "")
    if len(text) == 32 and _HEX.fullmatch(text):
        found = session.get(
            model, uuid.UUID(text), with_for_update=for_update, populate_existing=for_update
        )
        if found is None:
            raise NotFound(f"no {noun} has that id")
        return found
    if len(text) < SHORTEST_PREFIX or not _HEX.fullmatch(text):
        raise InvalidRequest(
            f"give the {noun}'s id or at least its first {SHORTEST_PREFIX} hex digits"
        )
    # SQLite keeps UUIDs as 32 hex digits, PostgreSQL prints them with dashes: compare bare.
    bare = func.replace(cast(model.id, String), "-", "")
    query = select(model).where(bare.like(f"{text}%")).limit(2)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    matches = session.scalars(query).all()
    if not matches:
        raise NotFound(f"no {noun} id starts with {text}")
    if len(matches) > 1:
        raise InvalidRequest(f"more than one {noun} id starts with {text}; give more digits")
    return matches[0]
