"""Python client of the license telemetry server (wire protocol v1).

>>> client = InstanceClient(
...     "https://licensing.example.com", key, "demo-mailserver", "/var/lib/mailsrv/license",
...     "/etc/mailsrv/licensing-jwks.json", product_version="2.1.0",
... )  # doctest: +SKIP
>>> client.activate()  # doctest: +SKIP
>>> client.status().valid  # offline, from the stored lease  # doctest: +SKIP
"""

from licensing_client._version import __version__
from licensing_client.client import InstanceClient
from licensing_client.errors import (
    ConfigurationError,
    InvalidRequestError,
    LicenseRefusedError,
    LicensingClientError,
    MalformedKeyError,
    NotActivatedError,
    ServerUnreachableError,
    SignatureRejectedError,
    StateError,
    UnexpectedResponseError,
    UnverifiedResponseError,
)
from licensing_client.jwks import TrustedKeys
from licensing_client.keys import LicenseKey
from licensing_client.lease import LeaseError, verify_lease
from licensing_client.models import (
    Activation,
    ActivationResult,
    CheckInResult,
    DeactivationResult,
    Lease,
    LicenseInfo,
    Status,
)

__all__ = [
    "Activation",
    "ActivationResult",
    "CheckInResult",
    "ConfigurationError",
    "DeactivationResult",
    "InstanceClient",
    "InvalidRequestError",
    "Lease",
    "LeaseError",
    "LicenseInfo",
    "LicenseKey",
    "LicenseRefusedError",
    "LicensingClientError",
    "MalformedKeyError",
    "NotActivatedError",
    "ServerUnreachableError",
    "SignatureRejectedError",
    "StateError",
    "Status",
    "TrustedKeys",
    "UnexpectedResponseError",
    "UnverifiedResponseError",
    "__version__",
    "verify_lease",
]
