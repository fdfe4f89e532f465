"""Is this instance licensed now? From the state directory and the pinned keys alone.

:meth:`InstanceClient.status` and :func:`offline_status` give the same answer; the
function needs no server address and no license key, so a support script or a product's
start-up check can ask without holding either. The pinned keys are still required: the
state directory is writable by the product, so a lease in it proves nothing until it
verifies against keys from elsewhere.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from licensing_client.jwks import JwksSource, TrustedKeys
from licensing_client.keys import LicenseKey
from licensing_client.lease import LeaseError, verify_lease
from licensing_client.models import Lease, Status
from licensing_client.state import FINGERPRINT_FILE, StateStore, StoredActivation
from licensing_client.transport import Clock


def offline_status(
    state_dir: str | os.PathLike[str],
    trusted_keys: JwksSource | TrustedKeys,
    *,
    product: str | None = None,
    license_key: str | None = None,
    fingerprint: str | None = None,
    issuer: str | None = None,
    clock: Clock = time.time,
) -> Status:
    """The stored lease's verdict. ``product``, ``license_key`` and ``fingerprint``, when
    given, must match what the activation was made with (else ``NOT_ACTIVATED``); when
    not, the stored activation's are used. Nothing is created or sent.
    """
    keys = TrustedKeys.load(trusted_keys)
    key_id = LicenseKey.parse(license_key).key_id if license_key else None
    now = clock()
    directory = Path(state_dir)
    if not directory.is_dir():
        return _not_activated(fingerprint or "", now, f"no state directory {directory}")
    state = StateStore(directory)
    stored = state.load_activation()
    instance = fingerprint or (state.read_text(FINGERPRINT_FILE) or "").strip()
    if stored is not None and (
        (product is not None and stored.product != product)
        or (key_id is not None and stored.key_id != key_id)
        or (instance and stored.fingerprint != instance)
    ):
        stored = None  # made for another product, license or instance
    return lease_status(
        state,
        keys,
        stored,
        product=stored.product if stored else product or "",
        fingerprint=instance or (stored.fingerprint if stored else ""),
        issuer=issuer,
        now=now,
    )


def lease_status(
    state: StateStore,
    keys: TrustedKeys,
    stored: StoredActivation | None,
    *,
    product: str,
    fingerprint: str,
    issuer: str | None,
    now: float,
) -> Status:
    """Valid while the stored lease verifies (``aud`` = product, ``fpr`` = fingerprint,
    ``act`` = the stored activation) and ``exp`` has not passed."""
    checked_at = datetime.fromtimestamp(now, UTC)

    def answer(valid: bool, code: str, detail: str, lease: Lease | None = None) -> Status:
        return Status(
            valid=valid,
            code=code,
            detail=detail,
            fingerprint=fingerprint,
            activation_id=stored.activation_id if stored else None,
            lease=lease,
            checked_at=checked_at,
        )

    token = state.load_lease()
    if stored is None or token is None:
        return answer(False, "NOT_ACTIVATED", "no activation with a lease is stored")
    try:
        lease = verify_lease(
            token, keys, product=product, fingerprint=fingerprint, now=now, issuer=issuer
        )
    except LeaseError as exc:
        return answer(False, exc.code, exc.detail, exc.lease)
    if lease.activation_id != stored.activation_id:
        return answer(False, "LEASE_INVALID", "the lease belongs to another activation")
    return answer(True, "VALID", f"valid until {lease.expires_at:%Y-%m-%dT%H:%M:%SZ}", lease)


def _not_activated(fingerprint: str, now: float, detail: str) -> Status:
    return Status(
        valid=False,
        code="NOT_ACTIVATED",
        detail=detail,
        fingerprint=fingerprint,
        activation_id=None,
        lease=None,
        checked_at=datetime.fromtimestamp(now, UTC),
    )
