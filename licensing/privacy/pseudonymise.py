"""Pseudonymisation helpers: what replaces raw usage data once its raw retention ends.

The keyed hashes are made here and only here, so the check-in path that stores them and
the staff search that looks them up cannot drift apart (a different purpose or encoding
would silently find nothing).

Each month has its own keys (crypto/sealing.py): a value is hashed under the key of the
month it was observed in, and looked up under every month's key still held. Hashes of
one value from two months differ, so whatever compares hashes compares them within one
period; a month's hashes become unlinkable when its key is destroyed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

from licensing.crypto.sealing import Sealer

IP_HASH_PURPOSE = "ip"
SERVER_NAME_HASH_PURPOSE = "server-name"


def ip_network_prefix(ip: str) -> str | None:
    """The address's network: /24 for IPv4, /48 for IPv6 (None if not an address)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def ip_hash(sealer: Sealer, ip: str, *, period: str) -> bytes:
    """The keyed hash an observation's IP address is stored by, in key ``period``."""
    return sealer.period_keyed_hash(IP_HASH_PURPOSE, period, ip.encode())


def server_name_hash(sealer: Sealer, server_name: str, *, period: str) -> bytes:
    """The keyed hash an observation's server name is stored by (as reported)."""
    return sealer.period_keyed_hash(SERVER_NAME_HASH_PURPOSE, period, server_name.encode())


class HeldKeys(dict[str, bytes]):
    """A usage purpose's sealed keys held, by month, and whether its fixed key (what
    hashed usage before keys were kept per month) still hashes a row that is left:
    asked of ``fixed_key_in_use`` the first time it is needed (a page that only labels
    this month's values never asks)."""

    def __init__(
        self, by_period: Mapping[str, bytes], *, fixed_key_in_use: Callable[[], bool]
    ) -> None:
        super().__init__(by_period)
        self._in_use = fixed_key_in_use
        self._answer: bool | None = None

    @property
    def fixed_key_in_use(self) -> bool:
        if self._answer is None:
            self._answer = self._in_use()
        return self._answer


def ip_hashes(sealer: Sealer, ip: str, held: Mapping[str, bytes]) -> list[bytes]:
    """Every hash ``ip`` may be stored by: under each month's key ``held`` (sealed, by
    period) and, while :class:`HeldKeys` says a row hashed under it is left, the fixed
    key that hashed usage before keys were kept per month (a plain mapping: it is
    tried)."""
    return _hashes(sealer, IP_HASH_PURPOSE, ip.encode(), held)


def server_name_hashes(sealer: Sealer, server_name: str, held: Mapping[str, bytes]) -> list[bytes]:
    """Every hash ``server_name`` may be stored by (see :func:`ip_hashes`)."""
    return _hashes(sealer, SERVER_NAME_HASH_PURPOSE, server_name.encode(), held)


def _hashes(sealer: Sealer, purpose: str, value: bytes, held: Mapping[str, bytes]) -> list[bytes]:
    hashes = [
        sealer.keyed_hash_under(purpose, period, sealed, value) for period, sealed in held.items()
    ]
    if isinstance(held, HeldKeys) and not held.fixed_key_in_use:
        # Its rows are gone and its stored copy destroyed: an old hash left in a backup
        # must not be matched by deriving the key again.
        return hashes
    return [*hashes, sealer.keyed_hash(purpose, value)]
