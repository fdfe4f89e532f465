"""Pseudonymisation helpers: what replaces raw usage data once its raw retention ends.

The keyed hashes are made here and only here, so the check-in path that stores them and
the staff search that looks them up cannot drift apart (a different purpose or encoding
would silently find nothing).
"""

from __future__ import annotations

import ipaddress

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


def ip_hash(sealer: Sealer, ip: str) -> bytes:
    """The keyed hash an observation's IP address is stored and found by."""
    return sealer.keyed_hash(IP_HASH_PURPOSE, ip.encode())


def server_name_hash(sealer: Sealer, server_name: str) -> bytes:
    """The keyed hash an observation's server name is stored and found by (as reported)."""
    return sealer.keyed_hash(SERVER_NAME_HASH_PURPOSE, server_name.encode())
