"""Verdicts: ordered guards that each return a stable code (PROTOCOL.md §5).

A verdict is data, not an exception: a suspended license is a normal answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from packaging.version import Version

from licensing.models import LicenseStatus
from licensing.services.license_state import LicenseState
from licensing.services.upgrades import ReleaseInfo, version_covered


class VerdictCode(StrEnum):
    VALID = "VALID"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH"
    EXPIRED = "EXPIRED"
    VERSION_NOT_COVERED = "VERSION_NOT_COVERED"
    NOT_ACTIVATED = "NOT_ACTIVATED"
    TOO_MANY_ACTIVATIONS = "TOO_MANY_ACTIVATIONS"


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    code: VerdictCode
    detail: str


VALID = Verdict(True, VerdictCode.VALID, "The license is valid.")
NOT_ACTIVATED = Verdict(
    False, VerdictCode.NOT_ACTIVATED, "This instance has no live activation: activate it again."
)
TOO_MANY_ACTIVATIONS = Verdict(
    False,
    VerdictCode.TOO_MANY_ACTIVATIONS,
    "Every activation of this license is in use: deactivate another server first.",
)


def license_verdict(
    state: LicenseState,
    *,
    product_code: str | None,
    version: Version | None,
    releases: Sequence[ReleaseInfo],
    now: datetime,
) -> Verdict:
    """The guards that depend on the license alone, in the contract's order.

    ``product_code`` is None when the request names no product (check-ins), which
    then cannot mismatch; ``version`` is None when no version is reported (partner
    checks), which then cannot be uncovered.
    """
    if state.status == LicenseStatus.REVOKED:
        return Verdict(False, VerdictCode.REVOKED, "The license was revoked.")
    if state.status == LicenseStatus.SUSPENDED:
        return Verdict(False, VerdictCode.SUSPENDED, "The license is suspended.")
    if product_code is not None and product_code != state.product_code:
        return Verdict(
            False, VerdictCode.PRODUCT_MISMATCH, f"The license is not for product {product_code!r}."
        )
    if state.expires_at is not None and state.expires_at <= now:
        return Verdict(False, VerdictCode.EXPIRED, "The license has expired.")
    if version is not None and not version_covered(
        version, releases, state.upgrade_protection_until
    ):
        known = any(release.version == version for release in releases)
        why = "was released after" if known else "is newer than every release covered by"
        return Verdict(
            False,
            VerdictCode.VERSION_NOT_COVERED,
            f"Version {version} {why} the license's upgrade protection; renew it to run it.",
        )
    return VALID
