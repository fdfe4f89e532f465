"""The master key (key-encryption key) against the database: does it open what is sealed,
what is still sealed under another key, and re-sealing everything under a new one.

Sealed values live in three columns: license keys, server signing keys' private halves
and keyed-hash keys (the fixed ones once a rotation has run, and every month's key of
the usage purposes). A rotation re-seals them in batches the
caller commits one by one, so a crash leaves some rows under the old key and some under
the new, both of which the rotating sealer opens; running it again finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    LargeBinary,
    bindparam,
    case,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.crypto.sealing import (
    HASH_KEYS_TABLE,
    HASH_PURPOSES,
    KEY_ID_BYTES,
    LEGACY_HEADER,
    USAGE_HASH_PURPOSES,
    SealBroken,
    Sealer,
    master_key_id,
)
from licensing.errors import LicensingError
from licensing.models import HashKey, License, ServerKey
from licensing.models.hash_keys import FIXED_PERIOD
from licensing.services import fixed_usage_keys, server_keys
from licensing.services.licenses import TABLE as LICENSE_TABLE

DEFAULT_BATCH_SIZE = 500
# What :func:`sealed_elsewhere` names values sealed before envelopes carried a key id.
LEGACY = "sealed before key ids"


class RotationRefused(LicensingError):
    """A rotation whose previous key is not the one the data was sealed under."""

    status = 409
    code = "ROTATION_REFUSED"
    title = "Master key rotation refused"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    table: str
    model: type[Any]
    row_id: Any  # what the seal is bound to (its associated data): a column or expression
    sealed: InstrumentedAttribute[bytes]


# A hash key's seal is bound to its purpose, and a month's key to "purpose/period"
# (crypto/sealing.hash_key_row_id): the same text, made in SQL.
_HASH_KEY_ROW_ID = case(
    (HashKey.period == FIXED_PERIOD, HashKey.purpose),
    else_=HashKey.purpose + "/" + HashKey.period,
)

SEALED_COLUMNS = (
    SealedColumn(HASH_KEYS_TABLE, HashKey, _HASH_KEY_ROW_ID, HashKey.sealed_key),
    SealedColumn(server_keys.TABLE, ServerKey, ServerKey.kid, ServerKey.sealed_private_key),
    SealedColumn(LICENSE_TABLE, License, License.id, License.sealed_key),
)


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of a rotation: ``resealed`` rows of ``table``, to be committed now."""

    table: str
    resealed: int


def stored_hash_keys(session: Session) -> dict[str, bytes]:
    """The sealed fixed keyed-hash keys by purpose (none before the first rotation)."""
    schema = inspect(session.connection())
    if not schema.has_table(HASH_KEYS_TABLE):  # an older schema
        return {}
    query = select(HashKey.purpose, HashKey.sealed_key)
    # Before migration 0013 every stored key was a fixed one (and there was no period).
    if any(c["name"] == "period" for c in schema.get_columns(HASH_KEYS_TABLE)):
        query = query.where(HashKey.period == FIXED_PERIOD)
    rows = session.execute(query).all()
    return {purpose: sealed for purpose, sealed in rows}


def verify(
    session: Session, sealer: Sealer, *, source: str, elsewhere_checked: bool = False
) -> None:
    """Raise :class:`SealBroken` naming what the master key does not open.

    Opens one value of each kind (the active signing key, a license key, the stored
    hash keys), then asks the database whether any value is sealed under a master key
    ``sealer`` does not hold (:func:`sealed_elsewhere`). Cheap enough for every readiness
    probe and every CLI command. ``elsewhere_checked``: the caller asked already.
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
    period_key = session.execute(
        select(_HASH_KEY_ROW_ID, HashKey.sealed_key)
        .where(HashKey.period != FIXED_PERIOD)
        .order_by(HashKey.period.desc())
        .limit(1)
    ).first()
    if period_key is not None:
        samples.append(("a monthly keyed-hash key", HASH_KEYS_TABLE, period_key[0], period_key[1]))
    refused: SealBroken | None = None
    opened = 0
    for what, table, row_id, sealed in samples:
        try:
            sealer.open(sealed, table=table, row_id=row_id)
            opened += 1
        except SealBroken:
            sealed_by = sealer.sealed_by(sealed)
            if sealed_by is not None and sealed_by in (sealer.key_id, sealer.previous_key_id):
                raise  # the right key, so altered data: the sealer's detail says where
            under = f", sealed under master key {sealed_by}" if sealed_by else ""
            refused = refused or SealBroken(
                f"the master key from {source} (id {sealer.key_id}) does not open {what}"
                f"{under}: restore the key that sealed the data, or set it as "
                "LICENSING_MASTER_KEY"
            )
    if refused is not None and not opened:
        raise refused  # opens nothing: the wrong key
    elsewhere = {} if elsewhere_checked else sealed_elsewhere(session, sealer)
    if elsewhere:  # opens some: a rotation to it is unfinished
        raise SealBroken(
            f"the master key from {source} (id {sealer.key_id}) does not open "
            f"{describe(elsewhere)}: set the key that sealed them as "
            "LICENSING_MASTER_KEY_PREVIOUS, or finish the rotation"
        )
    if refused is not None:
        raise refused


def remaining(session: Session, sealer: Sealer) -> int:
    """How many sealed values are not under the current master key (a full count)."""
    header = bindparam("header", sealer.header, type_=LargeBinary)
    total = 0
    for column in SEALED_COLUMNS:
        query = select(func.count()).where(_not_current(column, header))
        total += session.scalar(query) or 0
    return total


def sealed_elsewhere(session: Session, sealer: Sealer) -> dict[str, int]:
    """How many sealed values are under each master key ``sealer`` does not hold, by key
    id (:data:`LEGACY` for values sealed before key ids that its keys do not open).

    One ``EXISTS`` per sealed column (bytes compared, on SQLite and PostgreSQL alike);
    only a column that has such values is counted, grouped by the key id in its header.
    """
    held = [_header_param(header) for header in _held_headers(sealer)]
    found: dict[str, int] = {}
    for column in SEALED_COLUMNS:
        header = _substr(column.sealed, 1, len(sealer.header))
        elsewhere = header.not_in(held)
        if not session.scalar(select(exists().where(elsewhere))):
            continue
        legacy = _substr(column.sealed, 1, 1) == _header_param(LEGACY_HEADER)
        key_id = _key_id_of(column)
        for key, count in session.execute(
            select(key_id, func.count()).where(elsewhere, ~legacy).group_by(key_id)
        ):
            found[bytes(key).hex()] = found.get(bytes(key).hex(), 0) + count
        sample = session.execute(
            select(column.row_id, column.sealed).where(legacy).limit(1)
        ).first()
        if sample is None:
            continue
        try:  # sealed before key ids, so by one key: one that opens shows the key holds
            sealer.open(sample[1], table=column.table, row_id=sample[0])
        except SealBroken:
            found[LEGACY] = found.get(LEGACY, 0) + (
                session.scalar(select(func.count()).where(legacy)) or 0
            )
    return found


def previous_key_sealed(session: Session, sealer: Sealer) -> bool:
    """Whether any sealed value is under ``sealer``'s previous key (an ``EXISTS`` per
    column on the key id; for values sealed before key ids, one opened by it alone)."""
    previous_key = sealer.previous_key
    if previous_key is None:
        return False
    header = _header_param(sealer.header[:1] + bytes.fromhex(master_key_id(previous_key)))
    only_previous = Sealer(previous_key)
    for column in SEALED_COLUMNS:
        if session.scalar(
            select(exists().where(_substr(column.sealed, 1, len(sealer.header)) == header))
        ):
            return True
        legacy = _substr(column.sealed, 1, 1) == _header_param(LEGACY_HEADER)
        sample = session.execute(select(column.row_id, column.sealed).where(legacy).limit(1))
        row = sample.first()
        if row is None:
            continue
        try:
            only_previous.open(row[1], table=column.table, row_id=row[0])
        except SealBroken:
            continue
        return True
    return False


def describe(elsewhere: dict[str, int]) -> str:
    """``elsewhere`` (from :func:`sealed_elsewhere`) in words, for one error line."""
    parts = [
        f"{count} {LEGACY}" if key_id == LEGACY else f"{count} under master key {key_id}"
        for key_id, count in sorted(elsewhere.items())
    ]
    return f"{sum(elsewhere.values())} sealed values ({', '.join(parts)})"


def rotate(
    session: Session, sealer: Sealer, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[Batch]:
    """Re-seal every value not under ``sealer``'s current key; commit after each batch.

    Nothing is written before the previous key is shown to be the one the data came
    from (:func:`_check_previous_key`). The keyed-hash keys are stored first (derived
    from that key), so that every hash made before the rotation still compares after it;
    the fixed usage keys only while a row hashed under them is left.
    """
    stored = stored_hash_keys(session)
    if not _check_previous_key(session, sealer, hash_keys_stored=len(stored) > 0):
        return
    keys = sealer.hash_keys()
    missing = [purpose for purpose in HASH_PURPOSES if purpose not in stored]
    if not fixed_usage_keys.in_use(session):
        # No row hashed under the fixed usage keys is left: not storing them is what
        # destroys them (derived from the previous key, they cannot be derived again).
        missing = [purpose for purpose in missing if purpose not in USAGE_HASH_PURPOSES]
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
                    update(column.model)
                    .where(column.row_id == row_id, column.sealed == sealed)
                    .values({column.sealed.key: resealed})
                    .execution_options(synchronize_session=False)
                )
            after = rows[-1][0]
            yield Batch(column.table, len(rows))


def _check_previous_key(session: Session, sealer: Sealer, *, hash_keys_stored: bool) -> bool:
    """Whether there is anything to re-seal; raise :class:`RotationRefused` when the
    previous key did not seal the data (a wrong key, or the two keys swapped).

    A previous key that opens nothing would otherwise become the origin of the keyed-hash
    keys stored by the first batch: every partner key and stored hash would stop matching.
    """
    previous_key = sealer.previous_key
    if previous_key is None:
        raise RotationRefused("a master key rotation needs the previous master key")
    previous = master_key_id(previous_key)
    ids = f"current master key {sealer.key_id}, previous {previous}"
    only_previous = Sealer(previous_key)
    header = bindparam("header", sealer.header, type_=LargeBinary)
    opened_one = False
    for column in SEALED_COLUMNS:
        other = _not_current(column, header)
        key_id = _key_id_of(column)
        strangers = session.execute(
            select(key_id)
            .where(other, _substr(column.sealed, 1, 1) != _header_param(LEGACY_HEADER))
            .where(key_id != _header_param(bytes.fromhex(previous)))
            .limit(1)
        ).first()
        if strangers is not None:
            raise RotationRefused(
                f"{column.table} holds values sealed under master key "
                f"{bytes(strangers[0]).hex()}, neither the {ids}: nothing was re-sealed"
            )
        sample = session.execute(select(column.row_id, column.sealed).where(other).limit(1))
        row = sample.first()
        if row is None:
            continue
        try:
            only_previous.open(row[1], table=column.table, row_id=row[0])
        except SealBroken:
            raise RotationRefused(
                f"the previous master key does not open {column.table} row {row[0]} "
                f"({ids}): set the key that sealed the data as the previous one; "
                "nothing was re-sealed"
            ) from None
        opened_one = True
    if opened_one:
        return True
    if hash_keys_stored:
        return False  # every value under the current key already: nothing to do
    raise RotationRefused(
        f"every sealed value is under the current master key already and the previous one "
        f"opens none of them ({ids}): are the two swapped? Nothing was re-sealed"
    )


def _held_headers(sealer: Sealer) -> list[bytes]:
    held = [sealer.header]
    if sealer.previous_key_id is not None:
        held.append(sealer.header[:1] + bytes.fromhex(sealer.previous_key_id))
    return held


def _key_id_of(column: SealedColumn) -> Any:
    return _substr(column.sealed, 2, KEY_ID_BYTES)


def _substr(value: Any, start: int, length: int) -> Any:
    # Numbers inline, not bound: PostgreSQL matches a GROUP BY expression to the
    # selected one only if both are the same text.
    return func.substr(value, literal_column(str(start)), literal_column(str(length)))


def _header_param(value: bytes) -> Any:
    return literal(value, type_=LargeBinary)


def _not_current(column: SealedColumn, header: Any) -> Any:
    return func.substr(column.sealed, 1, len(header.value)) != header
