"""What a staff search query is, recognised from its shape alone (no database).

One query can be read several ways (``build-server-number-01`` has the shape of a key
id and of a server name; ``ADA42`` of a key hint and of a name), so recognising it
gives every reading it fits; the search tries each one.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from licensing.crypto import license_keys
from licensing.errors import InvalidRequest, MalformedKey

# The prefixes pseudonymisation keeps (privacy/pseudonymise.py): only these are stored.
_STORED_PREFIX = {4: 24, 6: 48}
_HINT_LENGTH = 5
_MAX_QUERY = 320  # the longest stored value searched (an e-mail address)
_KEY_SHAPE = re.compile(r"[0-9A-Za-z]{5}(-[0-9A-Za-z]{5}){4}")


class Matched(StrEnum):
    """What a hit matched on."""

    KEY_ID = "key_id"
    KEY_HINT = "key_hint"
    CUSTOMER_NAME = "customer_name"
    CUSTOMER_EMAIL = "customer_email"
    SERVER_NAME = "server_name"
    IP = "ip"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Term:
    """One reading of the query: what to match and the value, normalised as stored."""

    matched: Matched
    value: str


def recognise(query: str) -> tuple[Term, ...]:
    """Every reading ``query`` fits, most specific first; raise on an unusable query."""
    text = query.strip()
    if not text:
        raise InvalidRequest("the search query is empty", errors={"query": ["empty"]})
    if len(text) > _MAX_QUERY:
        raise InvalidRequest(
            f"the search query is longer than {_MAX_QUERY} characters",
            errors={"query": ["too long"]},
        )
    exclusive = _network(text) or _ip(text) or _license_key(text) or _email(text)
    if exclusive is not None:
        return (exclusive,)
    terms: list[Term] = []
    if license_keys.is_key_id(text):
        terms.append(Term(Matched.KEY_ID, text))
    hint = _key_hint(text)
    if hint is not None:
        terms.append(Term(Matched.KEY_HINT, hint))
    if not any(char.isspace() for char in text):
        terms.append(Term(Matched.SERVER_NAME, text))
    terms.append(Term(Matched.CUSTOMER_NAME, text))
    return tuple(terms)


def _network(text: str) -> Term | None:
    if "/" not in text:
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    wanted = _STORED_PREFIX[network.version]
    if network.prefixlen != wanted:
        # Pseudonymised rows keep only the /24 (/48): a narrower or wider network could
        # not be matched on them, so it is refused rather than answered half.
        raise InvalidRequest(
            f"search a network by its /{wanted} prefix (the one usage data keeps)",
            errors={"query": ["network prefix"]},
        )
    return Term(Matched.NETWORK, str(network))


def _ip(text: str) -> Term | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # Stored as the check-in path stores it (api/requests.client_ip): a dual-stack
    # listener's IPv4-mapped address is kept as the IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return Term(Matched.IP, str(address))


def _license_key(text: str) -> Term | None:
    """A full key's id; a key-shaped query that is not a key says what is wrong with it."""
    shaped = _KEY_SHAPE.fullmatch(text) is not None
    if not shaped and len(text) != license_keys.KEY_LENGTH:
        return None
    try:
        key = license_keys.parse(text)
    except MalformedKey:
        if shaped:  # five groups of five: a mistyped key, not a server name
            raise
        return None
    return Term(Matched.KEY_ID, key.key_id)


def _email(text: str) -> Term | None:
    if "@" not in text:
        return None
    return Term(Matched.CUSTOMER_EMAIL, text.lower())


def _key_hint(text: str) -> str | None:
    """The hint as stored (normalised key symbols), if ``text`` has a hint's shape."""
    if len(text) != _HINT_LENGTH:
        return None
    try:
        hint = license_keys.normalise_symbols(text)
    except MalformedKey:
        return None
    return hint if len(hint) == _HINT_LENGTH else None
