"""Purpose-bound reveal: a license's raw IP addresses and server names, for a reason.

The console shows usage masked (the network, a label cut from the name's keyed hash).
Staff see the raw values only by revealing them, and each reveal is checked against the
role and, for an analyst, a case under way on that license, then written to the audit
log with who, what, why and when, before anything is shown. Pseudonymised rows have no
raw value left to reveal; they are counted, not hidden.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Forbidden, InvalidRequest, NotFound
from licensing.misuse.ladder import why_no_step
from licensing.models import Activation, StaffRole, StaffUser, UsageObservation
from licensing.models.misuse import CaseStatus, MisuseCase
from licensing.privacy.masking import activation_server_label, masked_ip, server_label
from licensing.privacy.pseudonymise import SERVER_NAME_HASH_PURPOSE
from licensing.services import audit
from licensing.services.hash_key_periods import stored_period_keys

REASON_MIN, REASON_MAX = 10, 500
DAYS = 90


@dataclass(frozen=True, slots=True)
class RevealedServer:
    label: str  # as the masked page shows it: srv-3f9a1c
    name: str


@dataclass(frozen=True, slots=True)
class RevealedAddress:
    network: str  # as the masked page shows it: 203.0.113.0/24
    ip: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class Revealed:
    license_id: uuid.UUID
    servers: tuple[RevealedServer, ...]
    addresses: tuple[RevealedAddress, ...]
    # Observations in the period whose raw values were already pseudonymised away.
    pseudonymised: int
    days: int

    def server_names(self) -> dict[str, str]:
        """Label → name, for showing each name beside its masked label."""
        return {server.label: server.name for server in self.servers}


def reveal_usage(
    session: Session,
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    staff: StaffUser,
    reason: str,
    case_id: uuid.UUID | None,
    now: datetime,
) -> Revealed:
    """Check the purpose, audit the reveal, then read the raw values (last 90 days)."""
    reason = _reason(reason)
    case = _case(session, case_id, license_id)
    refusal = why_not_revealable(StaffRole(staff.role), case)
    if refusal is not None:
        raise Forbidden(refusal)
    since = now - timedelta(days=DAYS)
    revealed = Revealed(
        license_id=license_id,
        servers=_servers(session, sealer, license_id, since),
        addresses=_addresses(session, license_id, since),
        pseudonymised=_pseudonymised(session, license_id, since),
        days=DAYS,
    )
    audit.record(
        session,
        actor=f"staff:{staff.id}",
        action="personal_data.revealed",
        subject_type="license",
        subject_id=license_id,
        # What was shown is named by kind and count; the values themselves never enter
        # the audit log.
        data={
            "case_id": str(case.id) if case is not None else None,
            "reason": reason,
            "fields": ["ip", "server_name"],
            "servers": len(revealed.servers),
            "addresses": len(revealed.addresses),
            "days": DAYS,
        },
        now=now,
    )
    return revealed


def is_reveal_purpose(case: MisuseCase) -> bool:
    """Whether ``case`` is still being worked, so an analyst may reveal for it: open, or
    confirmed with a step of the ladder left. A confirmed case stays confirmed after its
    last step (the license suspended); nothing is left to do that needs the raw values."""
    if case.status == CaseStatus.OPEN:
        return True
    return case.status == CaseStatus.CONFIRMED and why_no_step(case) is None


def why_not_revealable(role: StaffRole, case: MisuseCase | None) -> str | None:
    """None when ``role`` may reveal with ``case`` as its purpose; otherwise why not."""
    if not role.includes(StaffRole.ANALYST):
        return "viewers never reveal personal data"
    if role.includes(StaffRole.ADMIN):
        return None
    if case is None or not is_reveal_purpose(case):
        return (
            "an analyst reveals personal data only for a case under way on this license "
            "(open, or confirmed with a step of the ladder left)"
        )
    return None


def _case(session: Session, case_id: uuid.UUID | None, license_id: uuid.UUID) -> MisuseCase | None:
    if case_id is None:
        return None
    case = session.get(MisuseCase, case_id)
    if case is None or case.license_id != license_id:
        raise NotFound("no such misuse case on this license")
    return case


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if len(reason) < REASON_MIN:
        raise InvalidRequest(f"give the reason for revealing (at least {REASON_MIN} characters)")
    if len(reason) > REASON_MAX:
        raise InvalidRequest(f"the reason is longer than {REASON_MAX} characters")
    return reason


def _servers(
    session: Session, sealer: Sealer, license_id: uuid.UUID, since: datetime
) -> tuple[RevealedServer, ...]:
    observed = session.execute(
        select(UsageObservation.server_name_hash, UsageObservation.server_name)
        .where(
            UsageObservation.license_id == license_id,
            UsageObservation.day >= since.date(),
            UsageObservation.server_name.is_not(None),
        )
        .distinct()
    ).all()
    # An activation keeps the name it last reported, also past the usage's raw period:
    # only those seen in the period are shown, as the page says.
    named = session.execute(
        select(Activation.server_name, Activation.last_check_in_at)
        .where(
            Activation.license_id == license_id,
            Activation.server_name.is_not(None),
            Activation.last_check_in_at >= since,
        )
        .distinct()
    ).all()
    found = {server_label(digest): name for digest, name in observed if name}
    # Each month hashes under its own key, so a name has a label per month: one the
    # observations show already is not given a second from the activation.
    shown = set(found.values())
    held = stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
    for name, seen in named:
        if name and name not in shown:
            label = activation_server_label(sealer, name, seen=seen, held=held)
            found.setdefault(label, name)
    return tuple(RevealedServer(label, name) for label, name in sorted(found.items()))


def _addresses(
    session: Session, license_id: uuid.UUID, since: datetime
) -> tuple[RevealedAddress, ...]:
    rows = session.execute(
        select(
            UsageObservation.ip,
            func.min(UsageObservation.first_seen),
            func.max(UsageObservation.last_seen),
        )
        .where(
            UsageObservation.license_id == license_id,
            UsageObservation.day >= since.date(),
            UsageObservation.ip.is_not(None),
        )
        .group_by(UsageObservation.ip)
    ).all()
    found = [RevealedAddress(masked_ip(ip), ip, first, last) for ip, first, last in rows if ip]
    return tuple(sorted(found, key=lambda a: (a.network, a.ip)))


def _pseudonymised(session: Session, license_id: uuid.UUID, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(UsageObservation)
            .where(
                UsageObservation.license_id == license_id,
                UsageObservation.day >= since.date(),
                UsageObservation.ip.is_(None),
                UsageObservation.ip_hash.is_not(None),
            )
        )
        or 0
    )
