"""Masked display: an address as its network, a server name as a label from its hash."""

from __future__ import annotations

import hashlib

from licensing.crypto.sealing import Sealer
from licensing.privacy.masking import UNKNOWN, masked_ip, server_label
from licensing.privacy.pseudonymise import server_name_hash


def test_an_address_shows_as_its_stored_network_prefix() -> None:
    assert masked_ip("203.0.113.9") == "203.0.113.0/24"
    assert masked_ip("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert masked_ip(None, ip_prefix="198.51.100.0/24") == "198.51.100.0/24"  # pseudonymised
    assert masked_ip(None) == UNKNOWN  # restricted: nothing stored
    assert masked_ip("not an address") == UNKNOWN


def test_a_server_label_is_short_stable_and_distinct_and_hides_the_name() -> None:
    sealer = Sealer(bytes(range(32)))
    one = server_label(server_name_hash(sealer, "mail-1.example.com", period="2026-06"))
    assert one == server_label(server_name_hash(sealer, "mail-1.example.com", period="2026-06"))
    assert one != server_label(server_name_hash(sealer, "mail-2.example.com", period="2026-06"))
    assert one.startswith("srv-") and len(one) == len("srv-3f9a1c")
    assert int(one.removeprefix("srv-"), 16) >= 0  # hex digits
    # Cut from the keyed hash, not from an unkeyed one anyone could recompute.
    plain = hashlib.sha256(b"mail-1.example.com").hexdigest()[:6]
    assert one != f"srv-{plain}"
    assert server_label(bytes.fromhex("3f9a1c") + bytes(29)) == "srv-3f9a1c"
    assert server_label(None) == UNKNOWN
