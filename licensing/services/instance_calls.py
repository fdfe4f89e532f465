"""Instance calls: activate, check in, deactivate (PROTOCOL.md §5).

Each takes an authenticated :class:`InstanceCall` (its nonce not yet used up) and the
instance's report, applies the verdict guards in the contract's order, writes, and
returns what the answer must say. Activating and deactivating use the nonce up first; a
check-in uses it up with its own writes, after the verdict (the usage is recorded
whatever the verdict). A call that never reaches a conversation (a refused body) has its
nonce used up by :func:`licensing.services.check_ins.use_up_nonce`.

The check-in writes and their commit strategy are :mod:`licensing.services.check_ins`'s:
on PostgreSQL the process's group commit writes a check-in, its nonce included, in one
statement and commits; every other write waits for the commit of the face around the call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from licensing.crypto.lease_ids import new_lease_id
from licensing.crypto.leases import LeaseTerms, issue_lease
from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.services import activations, check_ins, seats
from licensing.services.instance_reports import ActivationReport, CheckIn, InstanceCall
from licensing.services.license_state import LicenseState
from licensing.services.seats import Seats
from licensing.services.upgrades import ReleaseInfo
from licensing.services.verdicts import NOT_ACTIVATED, VALID, Verdict, license_verdict
from licensing.storage.check_ins import CheckInGroup
from licensing.storage.replay import ReplayStore
from licensing.versions import parse_version


@dataclass(frozen=True, slots=True)
class InstanceEnv:
    """What the conversations need from the process: keys, caches, stores, the issuer.

    Built once per process by the wiring (``licensing/runtime.py``); ``check_ins`` is the
    group commit where the database has one (PostgreSQL), else None.
    """

    sealer: Sealer
    issuer: str
    signing_key: Callable[[Session], SigningKey]
    releases: Callable[[Session, uuid.UUID], tuple[ReleaseInfo, ...]]
    replay: ReplayStore
    check_ins: CheckInGroup | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one conversation; the view turns it into the wire format."""

    verdict: Verdict
    state: LicenseState
    seats: Seats
    now: datetime
    activation_id: uuid.UUID | None = None
    fingerprint: str | None = None
    server_name: str | None = None
    activated_at: datetime | None = None
    created: bool = False
    lease: str | None = None

    @property
    def next_check_in_at(self) -> datetime:
        return self.now + self.state.check_in_interval


def activate(
    session: Session, env: InstanceEnv, call: InstanceCall, report: ActivationReport
) -> Answer:
    check_ins.use_up_nonce(session, env.replay, call)
    state, now = call.state, call.now
    verdict = license_verdict(
        state,
        product_code=report.product,
        version=parse_version(report.product_version),
        releases=env.releases(session, state.product_id),
        now=now,
    )
    if not verdict.valid:
        return Answer(
            verdict,
            state,
            seats.of(session, state, now=now),
            now,
        )
    server_name = None if state.processing_restricted else report.server_name
    outcome = activations.activate(
        session,
        state,
        fingerprint=report.fingerprint,
        server_name=server_name,
        product_version=report.product_version,
        platform=report.platform,
        now=now,
    )
    if outcome.seat is None:
        return Answer(
            outcome.verdict,
            state,
            seats.of(session, state, now=now),
            now,
        )
    seat = outcome.seat
    # The lease's id is chosen before the write, which stores it as the activation's
    # newest; the key is fetched first too, so no stored id lacks a lease that was sent.
    jti = new_lease_id(
        env.sealer,
        license_id=state.id,
        activation_id=seat.activation.id,
        fingerprint=seat.activation.fingerprint,
    )
    key = env.signing_key(session)
    check_ins.record_check_in(
        session,
        env.sealer,
        license_id=state.id,
        processing_restricted=state.processing_restricted,
        report=CheckIn(
            activation_id=seat.activation.id,
            fingerprint=None,
            server_name=report.server_name,
            product_version=report.product_version,
            usage=report.usage,
            ip=report.ip,
        ),
        now=now,
        issued_jti=jti,
    )
    return Answer(
        VALID,
        state,
        seat.seats,
        now,
        activation_id=seat.activation.id,
        fingerprint=seat.activation.fingerprint,
        server_name=server_name,
        activated_at=seat.activation.activated_at,
        created=seat.created,
        lease=_lease(
            env, key, state, seat.activation.id, seat.activation.fingerprint, now=now, jti=jti
        ),
    )


def check_in(session: Session, env: InstanceEnv, call: InstanceCall, report: CheckIn) -> Answer:
    """Verdict, usage and lease; the nonce is used up with the same writes."""
    state, now = call.state, call.now
    verdict = license_verdict(
        state,
        product_code=None,
        version=parse_version(report.product_version),
        releases=env.releases(session, state.product_id),
        now=now,
    )
    # Only a valid verdict carries a lease: its id is chosen before the write, which
    # stores it as the activation's newest (the lease chain); any other verdict leaves
    # the activation naming the newest lease actually sent. The id is bound to what the
    # check-in names its activation by (crypto/lease_ids.py).
    jti, key = (
        (_lease_id(env, state, report), env.signing_key(session)) if verdict.valid else (None, None)
    )
    # Usage is recorded whatever the verdict: a revoked key still calling home is
    # exactly what misuse review needs to see.
    live = check_ins.record_call(
        session,
        call,
        report,
        sealer=env.sealer,
        replay=env.replay,
        group=env.check_ins,
        issued_jti=jti,
    )
    if live is None:  # nothing was touched, so nothing counted the seats
        return Answer(
            verdict if not verdict.valid else NOT_ACTIVATED,
            state,
            seats.of(session, state, now=now),
            now,
        )
    # The check-in statement already counted the seats, for a refusal as for a success:
    # an expired or revoked license's instances that keep calling home cost no more.
    counted = seats.reported(live.seats_used, state.max_activations, live.migration_until)
    if jti is None or key is None:
        return Answer(verdict, state, counted, now)
    return Answer(
        VALID,
        state,
        counted,
        now,
        activation_id=live.id,
        fingerprint=live.fingerprint,
        activated_at=live.activated_at,
        lease=_lease(env, key, state, live.id, live.fingerprint, now=now, jti=jti),
    )


def deactivate(
    session: Session, env: InstanceEnv, call: InstanceCall, activation_id: uuid.UUID
) -> bool:
    check_ins.use_up_nonce(session, env.replay, call)
    return activations.deactivate(session, call.state, activation_id, now=call.now)


def _lease_id(env: InstanceEnv, state: LicenseState, report: CheckIn) -> str:
    return new_lease_id(
        env.sealer,
        license_id=state.id,
        activation_id=report.activation_id,
        fingerprint=report.fingerprint,
    )


def _lease(
    env: InstanceEnv,
    key: SigningKey,
    state: LicenseState,
    activation_id: uuid.UUID,
    fingerprint: str,
    *,
    now: datetime,
    jti: str,
) -> str:
    terms = LeaseTerms(
        license_id=state.id,
        product_code=state.product_code,
        activation_id=activation_id,
        fingerprint=fingerprint,
        entitlements=state.entitlements,
        license_status=state.status,
        license_expires_at=state.expires_at,
        upgrade_protection_until=state.upgrade_protection_until,
        offline_grace=state.offline_grace,
    )
    return issue_lease(terms, key, issuer=env.issuer, now=now, jti=jti)
