"""The master key (key-encryption key) against the database: does it open what is sealed,
what is still sealed under another key, and re-sealing everything under a new one.

Sealed values live in three columns: license keys, server signing keys' private halves
and (once a rotation has run) keyed-hash keys. A rotation re-seals them in batches the
caller commits one by one, so a crash leaves some rows under the old key and some under
the new, both of which the rotating sealer opens; running it again finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, bindparam, func, inspect, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.crypto.sealing import HASH_KEYS_TABLE, HASH_PURPOSES, SealBroken, Sealer
from licensing.models import HashKey, License, ServerKey
from licensing.services import server_keys
from licensing.services.licenses import TABLE as LICENSE_TABLE

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class SealedColumn:
    table: str
    row_id: InstrumentedAttribute[Any]  # what the seal is bound to (its associated data)
    sealed: InstrumentedAttribute[bytes]


SEALED_COLUMNS = (
    SealedColumn(HASH_KEYS_TABLE, HashKey.purpose, HashKey.sealed_key),
    SealedColumn(server_keys.TABLE, ServerKey.kid, ServerKey.sealed_private_key),
    SealedColumn(LICENSE_TABLE, License.id, License.sealed_key),
)


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of a rotation: ``resealed`` rows of ``table``, to be committed now."""

    table: str
    resealed: int


def stored_hash_keys(session: Session) -> dict[str, bytes]:
    """The sealed keyed-hash keys by purpose (none before the first rotation)."""
    if not inspect(session.connection()).has_table(HASH_KEYS_TABLE):  # an older schema
        return {}
    rows = session.execute(select(HashKey.purpose, HashKey.sealed_key)).all()
    return {purpose: sealed for purpose, sealed in rows}


def verify(session: Session, sealer: Sealer, *, source: str) -> None:
    """Raise :class:`SealBroken` naming what the master key does not open.

    Opens one value of each kind: the active signing key, a license key, the stored
    hash keys. Cheap enough for every readiness probe and every CLI command.
    """
    samples: list[tuple[str, str, object, bytes]] = []
    active = server_keys.active_key(session)
    if active is not None:
        samples.append(
            ("the server signing key", server_keys.TABLE, active.kid, active.sealed_private_key)
        )
    license_row = session.execute(select(License.id, License.sealed_key).limit(1)).first()
    if license_row is not None:
        samples.append(("a license key", LICENSE_TABLE, license_row.id, license_row.sealed_key))
    for purpose, sealed in stored_hash_keys(session).items():
        samples.append(("a keyed-hash key", HASH_KEYS_TABLE, purpose, sealed))
    for what, table, row_id, sealed in samples:
        try:
            sealer.open(sealed, table=table, row_id=row_id)
        except SealBroken as exc:
            sealed_by = sealer.sealed_by(sealed)
            if sealed_by is not None and sealed_by in (sealer.key_id, sealer.previous_key_id):
                raise  # the right key, so altered data: the sealer's detail says where
            under = f", sealed under master key {sealed_by}" if sealed_by else ""
            raise SealBroken(
                f"the master key from {source} (id {sealer.key_id}) does not open {what}"
                f"{under}: restore the key that sealed the data, or set it as "
                "LICENSING_MASTER_KEY"
            ) from exc


def remaining(session: Session, sealer: Sealer) -> int:
    """How many sealed values are not under the current master key (a full count)."""
    header = bindparam("header", sealer.header, type_=LargeBinary)
    total = 0
    for column in SEALED_COLUMNS:
        query = select(func.count()).where(_not_current(column, header))
        total += session.scalar(query) or 0
    return total


def rotate(
    session: Session, sealer: Sealer, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Batch]:
    """Re-seal every value not under ``sealer``'s current key; commit after each batch.

    The keyed-hash keys are stored first (derived from the key that sealed the data
    so far), so that every hash made before the rotation still compares after it.
    """
    stored = stored_hash_keys(session)
    keys = sealer.hash_keys()
    missing = [purpose for purpose in HASH_PURPOSES if purpose not in stored]
    for purpose in missing:
        sealed = sealer.seal(keys[purpose], table=HASH_KEYS_TABLE, row_id=purpose)
        session.add(HashKey(purpose=purpose, sealed_key=sealed))
    if missing:
        session.flush()
        yield Batch(HASH_KEYS_TABLE, len(missing))
    header = bindparam("header", sealer.header, type_=LargeBinary)
    for column in SEALED_COLUMNS:
        after: Any = None
        while True:
            query = select(column.row_id, column.sealed).where(_not_current(column, header))
            if after is not None:
                query = query.where(column.row_id > after)
            rows = session.execute(query.order_by(column.row_id).limit(batch_size)).all()
            if not rows:
                break
            for row_id, sealed in rows:
                resealed = sealer.reseal(sealed, table=column.table, row_id=row_id)
                # Only if unchanged since read: another writer's value is never overwritten.
                session.execute(
                    update(column.row_id.class_)
                    .where(column.row_id == row_id, column.sealed == sealed)
                    .values({column.sealed.key: resealed})
                    .execution_options(synchronize_session=False)
                )
            after = rows[-1][0]
            yield Batch(column.table, len(rows))


def _not_current(column: SealedColumn, header: Any) -> Any:
    return func.substr(column.sealed, 1, len(header.value)) != header
