"""The rows of a synthetic fleet, as PostgreSQL's COPY text format takes them.

``FleetRows`` holds licenses, activations and evidence in memory and writes
observations as COPY lines; the planted patterns (``fleet_patterns.py``) and the
background (``fleet.py``) both build through it, so every row has the shape the
server itself writes: keyed hashes from the product's own sealer, the /24 prefix the
privacy module computes, one observation per (activation, day, address, server, version).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer

NULL = "\\N"
DAY = timedelta(days=1)

KeyedHash = Callable[[str, bytes], bytes]


def ts(moment: datetime) -> str:
    return moment.isoformat()


def bytea(value: bytes) -> str:
    """A bytea value in COPY text format (the backslash itself escaped)."""
    return "\\\\x" + value.hex()


def text(value: object) -> str:
    return NULL if value is None else str(value)


@dataclass(slots=True)
class LicenseRow:
    id: uuid.UUID
    number: int
    key: license_keys.LicenseKey
    edition: str
    status: str = "active"
    status_changed_at: datetime | None = None
    issued_at: datetime | None = None
    upgrade_protection_until: datetime | None = None

    @property
    def key_id(self) -> str:
        return self.key.key_id


@dataclass(slots=True)
class ActivationRow:
    id: uuid.UUID
    license: LicenseRow
    fingerprint: str
    server_name: str
    product_version: str
    activated_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None
    migration_until: datetime | None = None
    lease_jti: str | None = None
    last_check_in_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BackgroundSeat:
    """A seat of the ordinary fleet: its /24 (as ``a.b.c``) and its time of day (minute)."""

    activation: ActivationRow
    network: str
    minute: int


@dataclass(slots=True)
class Hashes:
    """Keyed hashes made once per distinct value: a fleet has few per activation."""

    keyed_hash: KeyedHash
    ips: dict[str, str] = field(default_factory=dict)
    servers: dict[str, str] = field(default_factory=dict)
    keys: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def ip(self, ip: str) -> str:
        found = self.ips.get(ip)
        if found is None:
            found = self.ips[ip] = bytea(self.keyed_hash("ip", ip.encode()))
        return found

    def server(self, name: str) -> str:
        found = self.servers.get(name)
        if found is None:
            found = self.servers[name] = bytea(self.keyed_hash("server-name", name.encode()))
        return found

    def observation_key(self, ip: str, server: str, version: str) -> str:
        found = self.keys.get((ip, server, version))
        if found is None:
            digest = self.keyed_hash("observation", "\x00".join((ip, server, version)).encode())
            found = self.keys[(ip, server, version)] = bytea(digest)
        return found


def ipv4_prefix(ip: str) -> str:
    """The /24 network as ``privacy.pseudonymise.ip_network_prefix`` writes it."""
    return ip.rsplit(".", 1)[0] + ".0/24"


class FleetRows:
    """Everything one generation writes, and the observation lines it has produced."""

    def __init__(self, sealer: Sealer, now: datetime, *, pseudonymised_before: date) -> None:
        self.sealer = sealer
        self.now = now
        self.hashes = Hashes(sealer.keyed_hash)
        self.pseudonymised_before = pseudonymised_before
        self.licenses: list[LicenseRow] = []
        self.activations: list[ActivationRow] = []
        self.observation_lines: list[str] = []
        self.observations = 0
        self.lease_presentations: list[str] = []
        self.signature_failures: list[str] = []
        self._networks = 0
        # The planted rows are checked for a second row of one (activation, day, values),
        # which COPY would refuse; the background makes one row per seat and day.
        self.check_unique = True
        self._made: set[tuple[uuid.UUID, date, str, str, str]] = set()

    # ----------------------------------------------------------------- licenses and seats

    def license(self, edition: str, **values: object) -> LicenseRow:
        number = len(self.licenses)
        row = LicenseRow(uuid.uuid4(), number, license_keys.generate(), edition)
        for name, value in values.items():
            setattr(row, name, value)
        self.licenses.append(row)
        return row

    def activation(
        self, license: LicenseRow, activated_at: datetime, *, server_name: str, version: str
    ) -> ActivationRow:
        row = ActivationRow(
            id=uuid.uuid4(),
            license=license,
            fingerprint=secrets.token_hex(16),
            server_name=server_name,
            product_version=version,
            activated_at=activated_at,
        )
        self.activations.append(row)
        return row

    def new_network(self) -> str:
        """A /24 of its own (as ``a.b.c``): first octets 100-199 never meet the background's."""
        self._networks += 1
        n = self._networks
        return f"{100 + (n >> 16) % 100}.{(n >> 8) & 255}.{n & 255}"

    # ----------------------------------------------------------------- observations

    def observe(
        self,
        activation: ActivationRow,
        first_seen: datetime,
        *,
        ip: str,
        server: str | None = None,
        version: str | None = None,
        count: int = 1,
        last_seen: datetime | None = None,
    ) -> None:
        """One observation row (the caller makes each (activation, day, values) once)."""
        server = server or activation.server_name
        version = version or activation.product_version
        last = last_seen or first_seen
        day = first_seen.date()
        if self.check_unique:
            made = (activation.id, day, ip, server, version)
            if made in self._made:
                raise ValueError(f"two observations of one key on {day}: merge them")
            self._made.add(made)
        hashes = self.hashes
        raw = day >= self.pseudonymised_before
        self.observation_lines.append(
            "\t".join(
                (
                    str(activation.id),
                    str(activation.license.id),
                    day.isoformat(),
                    hashes.observation_key(ip, server, version),
                    ip if raw else NULL,
                    hashes.ip(ip),
                    ipv4_prefix(ip),
                    server if raw else NULL,
                    hashes.server(server),
                    version,
                    str(count),
                    ts(first_seen),
                    ts(last),
                    "{}",
                    NULL if raw else ts(self.now),
                )
            )
        )
        self.observations += 1
        if activation.last_check_in_at is None or last > activation.last_check_in_at:
            activation.last_check_in_at = last
            activation.server_name = server
            activation.product_version = version

    def daily(
        self,
        activation: ActivationRow,
        start: datetime,
        end: datetime,
        *,
        ip: str,
        server: str | None = None,
        version: str | None = None,
    ) -> int:
        """A check-in every day at the same time from ``start`` until ``end``."""
        made = 0
        for moment in days_between(start, end):
            self.observe(activation, moment, ip=ip, server=server, version=version)
            made += 1
        return made

    # ----------------------------------------------------------------- other evidence

    def lease_presentation(
        self,
        activation: ActivationRow,
        presented: str,
        newest: str,
        at: datetime,
        ip: str,
        *,
        issued: str | None = None,
    ) -> None:
        self.lease_presentations.append(
            "\t".join(
                (
                    str(activation.license.id),
                    str(activation.id),
                    presented,
                    newest,
                    ts(at),
                    ipv4_prefix(ip),
                    self.hashes.ip(ip),
                    issued or NULL,
                )
            )
        )

    def signature_failure(self, license: LicenseRow, bucket_start: datetime, count: int) -> None:
        self.signature_failures.append("\t".join((license.key_id, ts(bucket_start), str(count))))

    def take_observation_lines(self) -> list[str]:
        lines, self.observation_lines = self.observation_lines, []
        return lines


def days_between(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += DAY
