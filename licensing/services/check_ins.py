"""Check-ins: the heartbeat that keeps an activation alive and records usage.

Usage is one row per (activation, day, IP, server name, version), upserted with a
counter, not one row per check-in. A license whose processing is restricted is verified
as usual but leaves no IP, no server name and no usage counters behind.

Server names are stored, hashed and searched in one spelling,
:func:`server_name_as_stored`: host names are case-insensitive (RFC 4343).

A check-in call's writes are chosen here: on PostgreSQL the process's group commit
writes and commits them, its database nonce included (:func:`record_call`); a call's
nonce is used up once, by :func:`use_up_nonce` or by those writes.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.crypto.lease_ids import lease_id_verifies
from licensing.crypto.sealing import Sealer, hash_period
from licensing.errors import NonceReplayed
from licensing.privacy.pseudonymise import ip_hash, ip_network_prefix, server_name_hash
from licensing.services.instance_reports import CheckIn, InstanceCall
from licensing.storage.check_ins import CheckInGroup, CheckInRow, LiveActivation, write_check_in
from licensing.storage.replay import NonceClaim, ReplayStore

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def server_name_as_stored(reported: str) -> str:
    """The one spelling a server name is stored, hashed and searched in: lower case.

    Host names are case-insensitive (RFC 4343): ``MX.Example`` and ``mx.example`` are one
    server, so they must make one observation, one hash and one search hit.
    """
    # ASCII letters only, as RFC 4343 folds them: Unicode lower-casing can lengthen a name
    # past its 253 characters ("İ") or merge two names (the Kelvin sign and "k").
    return reported.translate(_ASCII_LOWER)


def check_in_row(
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    processing_restricted: bool,
    report: CheckIn,
    now: datetime,
    nonce: NonceClaim | None = None,
    issued_jti: str | None = None,
) -> CheckInRow:
    """The check-in's writes as storage takes them; with ``nonce``, it is used up first.

    ``issued_jti`` is the id of the lease the answer will carry, if it carries one: the
    same write stores it as the activation's newest lease. A presented ``lease_jti`` is
    kept only when it verifies as issued to the named activation: anything else (a
    made-up id, another activation's, a UUID from before ids were tagged) would let a
    client write evidence rows at will, so it is dropped here, before any write.
    """
    # Restricted processing keeps only what verification needs: the check-in still counts
    # (seats, the lease chain), but its address, server name and the product's usage
    # counters are not stored.
    server_name = None if processing_restricted else report.server_name
    ip = None if processing_restricted else report.ip
    usage: Mapping[str, int] = {} if processing_restricted else report.usage
    observation = _observation(
        sealer, ip=ip, server_name=server_name, usage=usage, report=report, now=now
    )
    return CheckInRow(
        license_id,
        report.activation_id,
        report.fingerprint,
        nonce,
        now,
        observation,
        issued_jti=issued_jti,
        presented_jti=_verified(sealer, license_id, report),
    )


def _verified(sealer: Sealer, license_id: uuid.UUID, report: CheckIn) -> str | None:
    """The presented lease id, if this server issued it to the check-in's activation."""
    presented = report.lease_jti
    if presented is None:
        return None
    verifies = lease_id_verifies(
        sealer,
        presented,
        license_id=license_id,
        activation_id=report.activation_id,
        fingerprint=report.fingerprint,
    )
    return presented if verifies else None


def record_check_in(
    session: Session,
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    processing_restricted: bool,
    report: CheckIn,
    now: datetime,
    issued_jti: str | None = None,
) -> LiveActivation | None:
    """Touch the instance's live activation and upsert today's observation.

    Returns the activation, or None when the instance has no live activation (then
    nothing is written). The writes wait for the caller's commit.
    """
    row = check_in_row(
        sealer,
        license_id=license_id,
        processing_restricted=processing_restricted,
        report=report,
        now=now,
        issued_jti=issued_jti,
    )
    return write_check_in(session.connection(), row).activation


def use_up_nonce(session: Session, replay: ReplayStore, call: InstanceCall) -> None:
    """Use the call's nonce up in ``replay``, unless a conversation already did (or tried).

    A nonce counts as used once the signature verified and was fresh, whatever the
    outcome (§2): a refused body too. A replay raises :class:`NonceReplayed`.
    """
    if call.nonce_spent:
        return
    call.nonce_spent = True
    if not replay.use_up(session, replay.claim(call.key_id, call.nonce, now=call.now)):
        raise NonceReplayed()


def record_call(
    session: Session,
    call: InstanceCall,
    report: CheckIn,
    *,
    sealer: Sealer,
    replay: ReplayStore,
    group: CheckInGroup | None,
    issued_jti: str | None = None,
) -> LiveActivation | None:
    """Write a check-in call: the commit strategy and where its nonce is used up.

    ``issued_jti`` names the lease the answer will carry (None: the answer has none).

    With a ``group`` (PostgreSQL) the process's group commit writes and commits it with
    other threads' check-ins; otherwise the writes wait for the face's commit. A database
    nonce goes into the check-in's own writes (one round trip); a Redis nonce is used up
    first. A replay raises :class:`NonceReplayed`.
    """
    nonce = None
    if replay.in_database and not call.nonce_spent:
        call.nonce_spent = True
        nonce = replay.claim(call.key_id, call.nonce, now=call.now)
    else:
        use_up_nonce(session, replay, call)
    row = check_in_row(
        sealer,
        license_id=call.state.id,
        processing_restricted=call.state.processing_restricted,
        report=report,
        now=call.now,
        nonce=nonce,
        issued_jti=issued_jti,
    )
    if group is not None:
        recorded = group.record(session, row)
    else:
        recorded = write_check_in(session.connection(), row)
    if recorded.replayed:
        raise NonceReplayed()
    return recorded.activation


def _observation(
    sealer: Sealer,
    *,
    ip: str | None,
    server_name: str | None,
    usage: Mapping[str, int],
    report: CheckIn,
    now: datetime,
) -> dict[str, Any]:
    """The observation's values: raw fields, their keyed hashes and the network prefix."""
    # The unique key is a keyed digest, so it survives pseudonymisation of the raw values.
    # Every hash is made under the keys of the observation's month: they are destroyed
    # with that month's data. Once held (cached by the sealer) they cost no database read.
    period = hash_period(now.date())
    key = sealer.period_keyed_hash(
        "observation",
        period,
        "\x00".join((ip or "", server_name or "", report.product_version)).encode(),
    )
    return {
        "p_day": now.date(),
        "p_observation_key": key,
        "p_ip": ip,
        "p_ip_hash": ip_hash(sealer, ip, period=period) if ip else None,
        "p_ip_prefix": ip_network_prefix(ip) if ip else None,
        "p_server_name": server_name,
        "p_server_name_hash": (
            server_name_hash(sealer, server_name, period=period) if server_name else None
        ),
        "p_product_version": report.product_version,
        "p_first_seen": now,
        "p_last_seen": now,
        "p_usage": dict(usage),
    }
