"""The call-home conversations: activate, check in, deactivate (PROTOCOL.md §5).

Each takes the verified license state and the instance's report, applies the verdict
guards in the contract's order, writes, and returns what the answer must say.
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
from licensing.services import activations, checkins, seats
from licensing.services.checkins import CheckIn
from licensing.services.license_state import LicenseState
from licensing.services.replay import NonceClaim
from licensing.services.seats import Seats
from licensing.services.upgrades import ReleaseInfo
from licensing.services.verdicts import NOT_ACTIVATED, VALID, Verdict, license_verdict
from licensing.versions import parse_version


@dataclass(frozen=True, slots=True)
class CallHomeEnv:
    """What the conversations need from the process: keys, caches, the issuer name."""

    sealer: Sealer
    issuer: str
    signing_key: Callable[[], SigningKey]
    releases: Callable[[uuid.UUID], tuple[ReleaseInfo, ...]]
    check_ins: checkins.CheckInGroup | None = None


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
    session: Session,
    env: CallHomeEnv,
    state: LicenseState,
    request: ActivationRequest,
    *,
    now: datetime,
) -> Answer:
    verdict = license_verdict(
        state,
        product_code=request.product,
        version=parse_version(request.product_version),
        releases=env.releases(state.product_id),
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
        lease=_lease(env, state, seat.activation.id, seat.activation.fingerprint, now),
    )


def check_in(
    session: Session,
    env: CallHomeEnv,
    state: LicenseState,
    report: CheckIn,
    *,
    now: datetime,
    nonce: NonceClaim | None = None,
) -> Answer:
    """Verdict, usage and lease; with ``nonce``, uses it up with the same writes."""
    verdict = license_verdict(
        state,
        product_code=None,
        version=parse_version(report.product_version),
        releases=env.releases(state.product_id),
        now=now,
    )
    # Usage is recorded whatever the verdict: a revoked key still calling home is
    # exactly what misuse review needs to see.
    live = checkins.record_check_in(
        session,
        env.sealer,
        license_id=state.id,
        processing_restricted=state.processing_restricted,
        report=report,
        now=now,
        nonce=nonce,
        group=env.check_ins,
    )
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
        lease=_lease(env, state, live.id, live.fingerprint, now),
    )


def deactivate(
    session: Session, state: LicenseState, activation_id: uuid.UUID, *, now: datetime
) -> bool:
    return activations.deactivate(session, state, activation_id, now=now)


def _lease(
    env: CallHomeEnv, state: LicenseState, activation_id: uuid.UUID, fingerprint: str, now: datetime
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
    return issue_lease(terms, env.signing_key(), issuer=env.issuer, now=now)
