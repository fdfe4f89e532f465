"""How IP addresses and server names show before a reveal: masked, yet told apart.

An address shows as its network (the /24 or /48 that pseudonymised usage keeps anyway),
a server name as a short label made from its keyed hash: two servers of one license get
different labels and the same server the same label on every page, but the label says
nothing about the name (it is cut from an HMAC, not from the name).

The hashes are made under each month's key, so a server keeps its label within a month
and shows a new one the next: telling months apart is what lets them be unlinked later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from licensing.crypto.sealing import Sealer, hash_period
from licensing.privacy.pseudonymise import SERVER_NAME_HASH_PURPOSE, ip_network_prefix

SERVER_LABEL_PREFIX = "srv-"
# 24 bits: a collision between two servers of one license (a handful, at most a few
# hundred) is unlikely enough for display; nothing is decided on the label.
SERVER_LABEL_HEX_DIGITS = 6
UNKNOWN = "—"  # no value stored (a restricted license), or one that is not an address


def masked_ip(ip: str | None, *, ip_prefix: str | None = None) -> str:
    """The address's network; a pseudonymised row passes only its stored ``ip_prefix``."""
    if ip is not None:
        return ip_network_prefix(ip) or UNKNOWN
    return ip_prefix or UNKNOWN


def server_label(server_name_hash: bytes | None) -> str:
    """A short label for a server name, given its keyed hash: ``srv-3f9a1c``."""
    if not server_name_hash:
        return UNKNOWN
    return SERVER_LABEL_PREFIX + server_name_hash.hex()[:SERVER_LABEL_HEX_DIGITS]


def activation_server_label(
    sealer: Sealer, server_name: str | None, *, seen: datetime, held: Mapping[str, bytes]
) -> str:
    """The label of the name an activation reported, as the observations of the month
    it was ``seen`` (its last check-in) show it; ``held``: the server-name keys stored,
    sealed, by period (a page reads them once, and never creates one)."""
    period = hash_period(seen.date())
    if not server_name or period not in held:
        return UNKNOWN  # no key for that month: no observation of it to match either
    digest = sealer.keyed_hash_under(
        SERVER_NAME_HASH_PURPOSE, period, held[period], server_name.encode()
    )
    return server_label(digest)


def masked_email(email: str) -> str:
    """An address with its local part cut to the first character: ``a***@example.org``.

    Enough to tell a customer's address from another on a page, not to write to it.
    """
    local, at, domain = email.partition("@")
    if not at:
        return UNKNOWN
    return f"{local[:1]}***@{domain}"
