"""Pseudonymisation helpers: what replaces raw usage data once its raw retention ends."""

from __future__ import annotations

import ipaddress


def ip_network_prefix(ip: str) -> str | None:
    """The address's network: /24 for IPv4, /48 for IPv6 (None if not an address)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
