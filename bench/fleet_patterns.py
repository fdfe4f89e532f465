"""The planted misuse patterns and their legitimate look-alikes, one function each.

Each plants one license. Every pattern fires its rule under the default thresholds
(``licensing/misuse/thresholds.py``) and no other rule; every look-alike stays quiet for
the rules it imitates, for the reason that rule's ``ruled_out`` gives. Margins are kept
so that a scan run up to a day after the generation still decides the same.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleet_rows import DAY, ActivationRow, FleetRows, LicenseRow

HOUR = timedelta(hours=1)
SHORT_WINDOW_EDITION = "single-short"  # one seat, a 14-day migration window
OLD = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Releases:
    """The product's releases: the newest came out after some protections ended."""

    old: str = "3.0"  # a year ago
    recent: str = "3.1"  # 100 days ago
    newest: str = "4.0"  # 20 days ago


@dataclass(slots=True)
class Plant:
    rows: FleetRows
    now: datetime
    releases: Releases
    rng: random.Random

    @property
    def window_start(self) -> datetime:
        """The first daily check-in a pattern makes: inside the 30-day lookback."""
        return self.now - timedelta(days=29, hours=self.rng.randint(0, 20))

    def license(self, edition: str = "single", **values: object) -> LicenseRow:
        issued = self.now - timedelta(days=self.rng.randint(401, 800))  # before its seats
        values.setdefault("upgrade_protection_until", self.now + timedelta(days=200))
        return self.rows.license(edition, issued_at=issued, status_changed_at=issued, **values)

    def seat(
        self, license: LicenseRow, activated_at: datetime, version: str | None = None
    ) -> tuple[ActivationRow, str]:
        """A new activation on a server of its own in a network of its own, and its IP."""
        ip = f"{self.rows.new_network()}.{self.rng.randint(10, 250)}"
        name = f"srv-{secrets.token_hex(4)}.example"
        return self.rows.activation(
            license, activated_at, server_name=name, version=version or self.releases.recent
        ), ip

    def other_ip(self) -> str:
        return f"{self.rows.new_network()}.{self.rng.randint(10, 250)}"


def _released(activation: ActivationRow, at: datetime, reason: str = "deactivated") -> None:
    activation.released_at = at
    activation.release_reason = reason


# --------------------------------------------------------------------------- patterns


def migration_overstay(p: Plant) -> LicenseRow:
    """Old and new server both check in daily for 28 days: twice the 14-day window."""
    lic = p.license(SHORT_WINDOW_EDITION)
    old, old_ip = p.seat(lic, p.now - OLD)
    new_at = p.now - timedelta(days=28)
    new, new_ip = p.seat(lic, new_at)
    new.migration_until = new_at + timedelta(days=14)
    p.rows.daily(old, p.window_start, p.now, ip=old_ip)
    p.rows.daily(new, new_at + HOUR, p.now, ip=new_ip)
    return lic


def server_spread(p: Plant) -> LicenseRow:
    """One seat whose check-ins name six different servers: > 3 x 1 allowed."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    names = [f"node{n}-{secrets.token_hex(3)}.example" for n in range(6)]
    for n, moment in enumerate(_days(p.window_start, p.now)):
        p.rows.observe(seat, moment, ip=ip, server=names[n % len(names)])
    return lic


def network_spread(p: Plant) -> LicenseRow:
    """One seat calling from seven /24 networks in turn (> 5), one network a day."""
    lic = p.license()
    seat, _ = p.seat(lic, p.now - OLD)
    ips = [p.other_ip() for _ in range(7)]
    for n, moment in enumerate(_days(p.window_start, p.now)):
        p.rows.observe(seat, moment, ip=ips[min(n // 4, len(ips) - 1)])
    return lic


def cloned_by_networks(p: Plant) -> LicenseRow:
    """One activation seen from two networks five hours apart on six days (>= 3)."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    clone_ip = p.other_ip()
    days = list(_days(p.window_start, p.now))
    for n, moment in enumerate(days):
        p.rows.observe(seat, moment, ip=ip)
        if n >= len(days) - 12 and n % 2 == 0 and _same_day(moment) <= p.now:
            p.rows.observe(seat, _same_day(moment), ip=clone_ip)
    return lic


def cloned_by_lease_chain(p: Plant) -> LicenseRow:
    """Two machines alternate on one activation: each presents the lease the other
    superseded, so every superseded lease's successor is presented too (4 conflicts)."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    chain = [f"jti-{secrets.token_hex(8)}" for _ in range(8)]
    start = p.now - timedelta(days=9)
    for n in range(6):
        # Answered with the lease the same machine presents two check-ins later.
        p.rows.lease_presentation(
            seat, chain[n], chain[n + 1], start + n * DAY, ip, issued=chain[n + 2]
        )
    seat.lease_jti = chain[-1]
    return lic


def activation_churn(p: Plant) -> LicenseRow:
    """Seven activations and six releases within five days (13 > 6), on one server."""
    lic = p.license()
    base, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(base, p.window_start, p.now - timedelta(days=9), ip=ip)
    _released(base, p.now - timedelta(days=8, hours=20))
    start = p.now - timedelta(days=5)
    for n in range(7):
        at = start + n * 16 * HOUR
        seat = p.rows.activation(
            lic, at, server_name=base.server_name, version=base.product_version
        )
        p.rows.observe(seat, at + HOUR, ip=ip)
        if n < 6:
            _released(seat, at + 2 * HOUR)
    return lic


def revoked_calling_home(p: Plant, status: str) -> LicenseRow:
    """Revoked (or suspended) ten days ago; its instance still checks in every day."""
    changed = p.now - timedelta(days=10)
    lic = p.license(status=status)
    lic.status_changed_at = changed
    seat, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    return lic


def version_not_covered(p: Plant) -> LicenseRow:
    """Protection ended 60 days ago; for 15 days the instance runs 4.0 (out 20 days ago)."""
    lic = p.license(upgrade_protection_until=p.now - timedelta(days=60))
    seat, ip = p.seat(lic, p.now - OLD, p.releases.old)
    switch = p.now - timedelta(days=15)
    p.rows.daily(seat, p.window_start, switch, ip=ip)
    p.rows.daily(seat, switch + 12 * HOUR, p.now, ip=ip, version=p.releases.newest)
    return lic


def signature_failures(p: Plant) -> LicenseRow:
    """Thirty invalid signatures within half an hour three days ago (>= 20 in 60 min)."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    burst = (p.now - timedelta(days=3)).replace(second=0, microsecond=0)
    burst -= timedelta(minutes=burst.minute % 5)
    for n in range(6):
        p.rows.signature_failure(lic, burst + timedelta(minutes=5 * n), 5)
    return lic


# --------------------------------------------------------------------------- look-alikes


def migration_inside_window(p: Plant) -> LicenseRow:
    """A move to a new server: the old one goes silent 7 days later (window 14 days)."""
    lic = p.license(SHORT_WINDOW_EDITION)
    old, old_ip = p.seat(lic, p.now - OLD)
    new_at = p.now - timedelta(days=20)
    new, new_ip = p.seat(lic, new_at)
    new.migration_until = new_at + timedelta(days=14)
    last_old = new_at + timedelta(days=7)
    p.rows.daily(old, p.window_start, last_old, ip=old_ip)
    _released(old, (old.last_check_in_at or last_old) + HOUR)
    p.rows.daily(new, new_at + HOUR, p.now, ip=new_ip)
    return lic


def nat_office(p: Plant) -> LicenseRow:
    """Three seats behind one address, each renamed twice: 9 servers (<= 3 x 3), 1 network."""
    lic = p.license("triple")
    ip = p.other_ip()
    for _ in range(3):
        seat, _ = p.seat(lic, p.now - OLD)
        names = [f"{seat.server_name}-{n}" for n in range(3)]
        for n, moment in enumerate(_days(p.window_start, p.now)):
            p.rows.observe(seat, moment, ip=ip, server=names[min(n // 10, 2)])
    return lic


def network_move(p: Plant) -> LicenseRow:
    """A data-centre move: two networks on one day only (< 3 days), then the new one."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    new_ip = p.other_ip()
    days = list(_days(p.window_start, p.now))
    move = len(days) // 2
    for n, moment in enumerate(days):
        p.rows.observe(seat, moment, ip=ip if n <= move else new_ip)
        if n == move:
            p.rows.observe(seat, _same_day(moment), ip=new_ip)
    return lic


def mover(p: Plant) -> LicenseRow:
    """A public address that moves three times in 20 days, never back: each move day shows
    the old and the new network hours apart (3 days, within a 24 h interval), but never the
    same pair twice; four networks (<= 5)."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    ips = [ip, *(p.other_ip() for _ in range(3))]
    days = list(_days(p.window_start, p.now))
    moves = {len(days) - 20, len(days) - 13, len(days) - 6}
    current = 0
    for n, moment in enumerate(days):
        p.rows.observe(seat, moment, ip=ips[current])
        if n in moves:
            current += 1
            p.rows.observe(seat, _same_day(moment), ip=ips[current])
    return lic


def backup_restore(p: Plant) -> LicenseRow:
    """Restored from an older backup once: one old lease presented, the newest held by none."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    old, newest, after = (f"jti-{secrets.token_hex(8)}" for _ in range(3))
    p.rows.lease_presentation(seat, old, newest, p.now - timedelta(days=6), ip)
    seat.lease_jti = after
    return lic


def occasional_signature_failures(p: Plant) -> LicenseRow:
    """A skewed clock now and then: one or two failures on ten different days."""
    lic = p.license()
    seat, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    for day in p.rng.sample(range(1, 28), 10):
        bucket = (p.now - timedelta(days=day)).replace(minute=0, second=0, microsecond=0)
        p.rows.signature_failure(lic, bucket, p.rng.randint(1, 2))
    return lic


def revoked_within_grace(p: Plant) -> LicenseRow:
    """Revoked ten days ago; one last call six hours later, then silence (grace 24 h)."""
    changed = p.now - timedelta(days=10)
    lic = p.license(status="revoked")
    lic.status_changed_at = changed
    seat, ip = p.seat(lic, p.now - OLD)
    grace_call = changed + 6 * HOUR
    days = _days(p.window_start, changed - 2 * HOUR)
    for moment in days[:-1]:
        p.rows.observe(seat, moment, ip=ip)
    if days[-1].date() == grace_call.date():
        # The same day's row counts both calls, as the check-in upsert would.
        p.rows.observe(seat, days[-1], ip=ip, count=2, last_seen=grace_call)
    else:
        p.rows.observe(seat, days[-1], ip=ip)
        p.rows.observe(seat, grace_call, ip=ip)
    return lic


def release_covered(p: Plant) -> LicenseRow:
    """Protection ended 60 days ago; runs 3.1, which came out before it ended."""
    lic = p.license(upgrade_protection_until=p.now - timedelta(days=60))
    seat, ip = p.seat(lic, p.now - OLD, p.releases.recent)
    p.rows.daily(seat, p.window_start, p.now, ip=ip)
    return lic


def reinstall(p: Plant) -> LicenseRow:
    """A reinstall with a new fingerprint: one release and one activation (2 <= 6)."""
    lic = p.license()
    old, ip = p.seat(lic, p.now - OLD)
    p.rows.daily(old, p.window_start, p.now - timedelta(days=3), ip=ip)
    at = (old.last_check_in_at or p.now) + HOUR
    _released(old, at)
    new = p.rows.activation(lic, at, server_name=old.server_name, version=old.product_version)
    p.rows.daily(new, at + HOUR, p.now, ip=ip)
    return lic


def _same_day(moment: datetime) -> datetime:
    """Five hours from ``moment`` on the same day: a second row of that day, not the next."""
    later = moment + 5 * HOUR
    return later if later.date() == moment.date() else moment - 5 * HOUR


def _days(start: datetime, end: datetime) -> list[datetime]:
    out, moment = [], start
    while moment <= end:
        out.append(moment)
        moment += DAY
    return out


Planter = Callable[[Plant], LicenseRow]

# kind -> (rules it must open a case for, the planter)
PATTERNS: dict[str, tuple[str, Planter]] = {
    "MIGRATION_OVERSTAY": ("MIGRATION_OVERSTAY", migration_overstay),
    "SERVER_SPREAD": ("SERVER_SPREAD", server_spread),
    "NETWORK_SPREAD": ("NETWORK_SPREAD", network_spread),
    "CLONED_INSTANCE/networks": ("CLONED_INSTANCE", cloned_by_networks),
    "CLONED_INSTANCE/lease_chain": ("CLONED_INSTANCE", cloned_by_lease_chain),
    "ACTIVATION_CHURN": ("ACTIVATION_CHURN", activation_churn),
    "REVOKED_CALLING_HOME/revoked": (
        "REVOKED_CALLING_HOME",
        lambda p: revoked_calling_home(p, "revoked"),
    ),
    "REVOKED_CALLING_HOME/suspended": (
        "REVOKED_CALLING_HOME",
        lambda p: revoked_calling_home(p, "suspended"),
    ),
    "VERSION_NOT_COVERED": ("VERSION_NOT_COVERED", version_not_covered),
    "SIGNATURE_FAILURES": ("SIGNATURE_FAILURES", signature_failures),
}

# kind -> (rules it imitates and must not open a case for, the planter)
LOOK_ALIKES: dict[str, tuple[tuple[str, ...], Planter]] = {
    "migration_inside_window": (("MIGRATION_OVERSTAY",), migration_inside_window),
    "nat_office": (("SERVER_SPREAD", "NETWORK_SPREAD"), nat_office),
    "network_move": (("CLONED_INSTANCE", "NETWORK_SPREAD"), network_move),
    "mover": (("CLONED_INSTANCE", "NETWORK_SPREAD"), mover),
    "backup_restore": (("CLONED_INSTANCE",), backup_restore),
    "occasional_signature_failures": (("SIGNATURE_FAILURES",), occasional_signature_failures),
    "revoked_within_grace": (("REVOKED_CALLING_HOME",), revoked_within_grace),
    "release_covered": (("VERSION_NOT_COVERED",), release_covered),
    "reinstall": (("ACTIVATION_CHURN",), reinstall),
}
