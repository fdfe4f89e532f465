"""Instance calls: activate, check in, deactivate (PROTOCOL.md §5).

Each takes an authenticated :class:`InstanceCall` (its nonce not yet used up) and the
instance's report, uses the nonce up, applies the verdict guards in the contract's
order, writes, and returns what the answer must say. A call that never reaches a
conversation (a refused body) has its nonce used up by :func:`use_up_nonce`.

Who commits: a check-in on PostgreSQL joins the process's group commit
(storage/group_commit.py), which writes it, its nonce included, in one statement and
commits; every other write waits for the commit of the face around the call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from licensing.crypto.leases import LeaseTerms, issue_lease
from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.errors import NonceReplayed
from licensing.services import activations, checkins, seats
from licensing.services.checkins import CheckIn
from licensing.services.license_state import LicenseState
from licensing.services.seats import Seats
from licensing.services.upgrades import ReleaseInfo
from licensing.services.verdicts import NOT_ACTIVATED, VALID, Verdict, license_verdict
from licensing.storage.check_ins import CheckInGroup, LiveActivation, write_check_in
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


@dataclass(slots=True, eq=False)
class InstanceCall:
    """A request that passed the signature table: whose it is, when, from where, its nonce.

    ``key_id`` and ``nonce`` are as the signature carried them, fresh and not yet used
    up: the conversation uses the nonce up through the replay store, once, and records
    here that it did (``nonce_spent``), so a check-in may write it in its own statement
    and the face uses up only a nonce no conversation reached.
    """

    state: LicenseState
    now: datetime
    client_ip: str | None
    key_id: str
    nonce: str
    nonce_spent: bool = False


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


@dataclass(frozen=True, slots=True)
class ActivationRequest:
    product: str
    fingerprint: str
    server_name: str
    product_version: str
    platform: str | None
    usage: Mapping[str, int]
    ip: str | None


def activate(
    session: Session, env: InstanceEnv, call: InstanceCall, request: ActivationRequest
) -> Answer:
    use_up_nonce(session, env.replay, call)
    state, now = call.state, call.now
    verdict = license_verdict(
        state,
        product_code=request.product,
        version=parse_version(request.product_version),
        releases=env.releases(session, state.product_id),
        now=now,
    )
    if not verdict.valid:
        return Answer(
            verdict,
            state,
            seats.count(session, state.id, allowed=state.max_activations, now=now),
            now,
        )
    server_name = None if state.processing_restricted else request.server_name
    outcome = activations.activate(
        session,
        state,
        fingerprint=request.fingerprint,
        server_name=server_name,
        product_version=request.product_version,
        platform=request.platform,
        now=now,
    )
    if outcome.seat is None:
        return Answer(
            outcome.verdict,
            state,
            seats.count(session, state.id, allowed=state.max_activations, now=now),
            now,
        )
    seat = outcome.seat
    checkins.record_check_in(
        session,
        env.sealer,
        license_id=state.id,
        processing_restricted=state.processing_restricted,
        report=CheckIn(
            activation_id=seat.activation.id,
            fingerprint=None,
            server_name=request.server_name,
            product_version=request.product_version,
            usage=request.usage,
            ip=request.ip,
        ),
        now=now,
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
        lease=_lease(session, env, state, seat.activation.id, seat.activation.fingerprint, now=now),
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
    # Usage is recorded whatever the verdict: a revoked key still calling home is
    # exactly what misuse review needs to see.
    live = _record_check_in(session, env, call, report)
    if live is None:  # nothing was touched, so nothing counted the seats
        return Answer(
            verdict if not verdict.valid else NOT_ACTIVATED,
            state,
            seats.count(session, state.id, allowed=state.max_activations, now=now),
            now,
        )
    # The check-in statement already counted the seats, for a refusal as for a success:
    # an expired or revoked license's instances that keep calling home cost no more.
    counted = seats.reported(live.seats_used, state.max_activations, live.migration_until)
    if not verdict.valid:
        return Answer(verdict, state, counted, now)
    return Answer(
        VALID,
        state,
        counted,
        now,
        activation_id=live.id,
        fingerprint=live.fingerprint,
        activated_at=live.activated_at,
        lease=_lease(session, env, state, live.id, live.fingerprint, now=now),
    )


def deactivate(
    session: Session, env: InstanceEnv, call: InstanceCall, activation_id: uuid.UUID
) -> bool:
    use_up_nonce(session, env.replay, call)
    return activations.deactivate(session, call.state, activation_id, now=call.now)


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


def _record_check_in(
    session: Session, env: InstanceEnv, call: InstanceCall, report: CheckIn
) -> LiveActivation | None:
    """Write the check-in: the commit strategy and where its nonce is used up.

    On PostgreSQL the process's group commit writes and commits it with other threads'
    check-ins; elsewhere the writes wait for the face's commit. A database nonce goes
    into the check-in's own writes (one round trip); a Redis nonce is used up first.
    """
    nonce = None
    if env.replay.in_database and not call.nonce_spent:
        call.nonce_spent = True
        nonce = env.replay.claim(call.key_id, call.nonce, now=call.now)
    else:
        use_up_nonce(session, env.replay, call)
    row = checkins.check_in_row(
        env.sealer,
        license_id=call.state.id,
        processing_restricted=call.state.processing_restricted,
        report=report,
        now=call.now,
        nonce=nonce,
    )
    if env.check_ins is not None:
        recorded = env.check_ins.record(session, row)
    else:
        recorded = write_check_in(session.connection(), row)
    if recorded.replayed:
        raise NonceReplayed()
    return recorded.activation


def _lease(
    session: Session,
    env: InstanceEnv,
    state: LicenseState,
    activation_id: uuid.UUID,
    fingerprint: str,
    *,
    now: datetime,
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
    return issue_lease(terms, env.signing_key(session), issuer=env.issuer, now=now)
