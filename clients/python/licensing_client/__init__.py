"""Python client of the license telemetry server (wire protocol v1).

>>> client = InstanceClient(
...     "https://licensing.example.com", key, "demo-mailserver", "/var/lib/mailsrv/license",
...     "/etc/mailsrv/licensing-jwks.json", product_version="2.1.0",
... )  # doctest: +SKIP
>>> client.activate()  # doctest: +SKIP
>>> client.status().valid  # offline, from the stored lease  # doctest: +SKIP

>>> partner = PartnerClient("https://licensing.example.com", api_key)  # doctest: +SKIP
>>> partner.check("6E86N-JY2MX-K1WS8-JMXTQ-EHXDK", target_version="2.1.0").ok  # doctest: +SKIP
"""

from licensing_client._version import __version__
from licensing_client.errors import (
    ConfigurationError,
    ForbiddenError,
    InvalidRequestError,
    LicenseNotFoundError,
    LicenseRefusedError,
    LicensingClientError,
    MalformedKeyError,
    NotActivatedError,
    NotFoundError,
    RateLimitedError,
    ServerUnreachableError,
    SignatureRejectedError,
    StateError,
    UnauthenticatedError,
    UnexpectedResponseError,
    UnverifiedResponseError,
)
from licensing_client.instance import InstanceClient
from licensing_client.jwks import TrustedKeys
from licensing_client.keys import LicenseKey
from licensing_client.lease import LeaseError, verify_lease
from licensing_client.models import (
    Activation,
    ActivationResult,
    CheckInResult,
    DeactivationResult,
    Lease,
    LicenseCheck,
    LicenseInfo,
    PartnerLicense,
    Release,
    Status,
    Upgrade,
)
from licensing_client.offline import offline_status
from licensing_client.partner import ApiKey, PartnerClient

__all__ = [
    "Activation",
    "ActivationResult",
    "ApiKey",
    "CheckInResult",
    "ConfigurationError",
    "DeactivationResult",
    "ForbiddenError",
    "InstanceClient",
    "InvalidRequestError",
    "Lease",
    "LeaseError",
    "LicenseCheck",
    "LicenseInfo",
    "LicenseKey",
    "LicenseNotFoundError",
    "LicenseRefusedError",
    "LicensingClientError",
    "MalformedKeyError",
    "NotActivatedError",
    "NotFoundError",
    "PartnerClient",
    "PartnerLicense",
    "RateLimitedError",
    "Release",
    "ServerUnreachableError",
    "SignatureRejectedError",
    "StateError",
    "Status",
    "TrustedKeys",
    "UnauthenticatedError",
    "UnexpectedResponseError",
    "UnverifiedResponseError",
    "Upgrade",
    "__version__",
    "offline_status",
    "verify_lease",
]
