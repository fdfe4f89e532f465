"""What an instance call brings the conversations: who signed it, and what it reported.

An :class:`InstanceCall` is what the face learned from the signature; an
:class:`ActivationReport` and a :class:`CheckIn` are what the instance said in the body,
with the address the server observed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from licensing.services.license_state import LicenseState


@dataclass(slots=True, eq=False)
class InstanceCall:
    """A request that passed the signature table: whose it is, when, from where, its nonce.

    ``key_id`` and ``nonce`` are as the signature carried them, fresh and not yet used
    up: the conversation uses the nonce up through the replay store, once, and records
    here that it did (``nonce_spent``), so a check-in may write it in its own statement
    and the face uses up only a nonce no conversation reached.
    """

    state: LicenseState
    now: datetime
    client_ip: str | None
    key_id: str
    nonce: str
    nonce_spent: bool = False


@dataclass(frozen=True, slots=True)
class ActivationReport:
    """What an instance reported when it asked for a seat; ``ip`` as the server saw it."""

    product: str
    fingerprint: str
    server_name: str
    product_version: str
    platform: str | None
    usage: Mapping[str, int]
    ip: str | None


@dataclass(frozen=True, slots=True)
class CheckIn:
    """What an instance reported when it checked in; ``ip`` as the server saw it.

    ``lease_jti`` is the ``jti`` of the lease the instance holds, if it said (old clients
    do not): the lease chain's evidence of two machines sharing one activation.
    """

    activation_id: uuid.UUID | None
    fingerprint: str | None
    server_name: str
    product_version: str
    usage: Mapping[str, int]
    ip: str | None
    lease_jti: str | None = None
