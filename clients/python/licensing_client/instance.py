"""``InstanceClient``: activate, check in, deactivate, and answer offline from the lease."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from licensing_client._lifecycle import SessionOwner
from licensing_client.errors import (
    ConfigurationError,
    LicenseRefusedError,
    LicensingClientError,
    NotActivatedError,
    UnexpectedResponseError,
)
from licensing_client.jwks import JwksSource, TrustedKeys
from licensing_client.keys import LicenseKey
from licensing_client.lease import LeaseError, lease_id_of, verify_lease
from licensing_client.models import (
    Activation,
    ActivationResult,
    CheckInResult,
    DeactivationResult,
    Lease,
    LicenseInfo,
    Status,
    next_check_in,
    server_time,
)
from licensing_client.offline import lease_status
from licensing_client.signing import VerifiedAnswer
from licensing_client.state import StateStore, StoredActivation, valid_fingerprint
from licensing_client.transport import Clock, RetryPolicy, Sleep, Transport, default_sleep

ACTIVATIONS = "/v1/instance/activations"
CHECK_INS = "/v1/instance/check-ins"
# A verified verdict that ends the right to run: the stored lease is discarded.
DISCARDING_VERDICTS = frozenset({"REVOKED", "SUSPENDED", "EXPIRED"})
Usage = Mapping[str, int]


class InstanceClient(SessionOwner):
    """One installed product instance talking to the licensing server.

    ``product_version`` and ``server_name`` may be given here once, or per call (a
    call's value wins). ``product_version`` is required by the server: a call without
    one anywhere raises :class:`ConfigurationError` before anything is sent.
    ``server_name`` defaults to ``socket.getfqdn()``.
    """

    def __init__(
        self,
        base_url: str,
        license_key: str,
        product: str,
        state_dir: str | os.PathLike[str],
        trusted_keys: JwksSource | TrustedKeys,
        *,
        fingerprint: str | None = None,
        timeout: float = 10,
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        clock: Clock = time.time,
        product_version: str | None = None,
        server_name: str | None = None,
        platform: str | None = None,
        issuer: str | None = None,
        sleep: Sleep = default_sleep,
        max_retry_after: float = 60.0,
    ) -> None:
        self.key = LicenseKey.parse(license_key)
        if not product:
            raise ConfigurationError("product (the product code) is required")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigurationError("timeout must be positive; retries and backoff not negative")
        if fingerprint is not None and not valid_fingerprint(fingerprint):
            raise ConfigurationError("fingerprint must be 16-128 printable ASCII characters")
        self.product = product
        self.trusted_keys = TrustedKeys.load(trusted_keys)
        self.state = StateStore(state_dir)
        self.fingerprint = fingerprint if fingerprint is not None else self.state.fingerprint()
        self.product_version = product_version
        self.server_name = server_name
        self.platform = platform
        self.issuer = issuer
        self._clock = clock
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._transport = Transport(
            base_url,
            self.key,
            self.trusted_keys,
            timeout=timeout,
            policy=RetryPolicy(retries=retries, backoff=backoff, max_retry_after=max_retry_after),
            session=self._session,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return (
            f"InstanceClient({self.base_url!r}, key_id={self.key.key_id!r}, "
            f"product={self.product!r}, state_dir={str(self.state.directory)!r})"
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def activation_id(self) -> str | None:
        stored = self._stored_activation()
        return stored.activation_id if stored else None

    # -- calls -------------------------------------------------------------------------

    def activate(
        self,
        server_name: str | None = None,
        product_version: str | None = None,
        usage: Usage | None = None,
        platform: str | None = None,
    ) -> ActivationResult:
        """Take a seat (``201``) or confirm the one this fingerprint holds (``200``).

        Raises :class:`LicenseRefusedError` (``403`` verdict), :class:`InvalidRequestError`,
        :class:`SignatureRejectedError` or :class:`ServerUnreachableError`.
        """
        name = self._server_name(server_name)
        payload: dict[str, Any] = {
            "product": self.product,
            "fingerprint": self.fingerprint,
            "server_name": name,
            "product_version": self._product_version(product_version),
        }
        if platform or self.platform:
            payload["platform"] = platform or self.platform
        if usage is not None:
            payload["usage"] = dict(usage)
        answer = self._call("POST", ACTIVATIONS, payload)
        if answer.status not in (200, 201):
            raise self._unexpected(answer)
        body = answer.body
        activation = Activation.from_json(body.get("activation"))
        license_info = LicenseInfo.from_json(body.get("license"))
        lease = self._verified_lease(body.get("lease"), activation_id=activation.id)
        self.state.save_activation(
            StoredActivation(
                activation_id=activation.id,
                key_id=self.key.key_id,
                product=self.product,
                fingerprint=self.fingerprint,
                server_name=activation.server_name or name,
                activated_at=body["activation"].get("activated_at"),
            )
        )
        self.state.save_lease(lease.token)
        return ActivationResult(
            created=answer.status == 201,
            activation=activation,
            license=license_info,
            lease=lease,
            next_check_in_at=next_check_in(body),
            server_time=server_time(body),
            request_id=answer.request_id,
        )

    def check_in(
        self,
        usage: Usage | None = None,
        server_name: str | None = None,
        product_version: str | None = None,
    ) -> CheckInResult:
        """Heartbeat and usage report. A verdict that is not valid is returned, not raised.

        The check-in names the stored lease (its ``jti`` as ``lease_jti``), so the server
        can tell two machines sharing one activation apart: only one of them can hold
        the newest lease. A valid verdict stores its fresh lease. ``REVOKED``,
        ``SUSPENDED`` and ``EXPIRED`` discard the stored lease; ``404 NOT_ACTIVATED``
        (raised as :class:`NotActivatedError`) discards the activation too. When the
        server cannot be reached or its answer does not verify, the stored lease is kept.
        """
        stored = self._stored_activation()
        name = self._server_name(server_name)
        payload: dict[str, Any] = {"fingerprint": self.fingerprint}
        if stored is not None:
            payload["activation_id"] = stored.activation_id
        payload["server_name"] = name
        payload["product_version"] = self._product_version(product_version)
        if usage is not None:
            payload["usage"] = dict(usage)
        held = lease_id_of(self.state.load_lease())
        if held is not None:
            payload["lease_jti"] = held
        answer = self._call("POST", CHECK_INS, payload)
        body = answer.body
        if answer.status != 200 or not isinstance(body.get("valid"), bool):
            raise self._unexpected(answer)
        code = str(body.get("code") or ("VALID" if body["valid"] else "INVALID"))
        license_info = LicenseInfo.from_json(body["license"]) if "license" in body else None
        lease: Lease | None = None
        if body["valid"]:
            expected = stored.activation_id if stored else None
            lease = self._verified_lease(body.get("lease"), activation_id=expected)
            if stored is None:  # state was lost: the lease names the activation
                self._remember_activation(lease, name)
            self.state.save_lease(lease.token)
        elif code in DISCARDING_VERDICTS:
            self.state.forget(activation=False)
        return CheckInResult(
            valid=bool(body["valid"]),
            code=code,
            detail=str(body["detail"]) if body.get("detail") is not None else None,
            license=license_info,
            lease=lease,
            next_check_in_at=next_check_in(body) if "next_check_in_at" in body else None,
            server_time=server_time(body),
            request_id=answer.request_id,
        )

    def deactivate(self) -> DeactivationResult:
        """Release this instance's seat; the stored activation and lease are discarded.

        Raises :class:`NotActivatedError` when nothing is stored or the server knows no
        live activation with the stored id (the local state is discarded then too).
        """
        stored = self._stored_activation()
        if stored is None:
            raise NotActivatedError("this instance has no stored activation to release")
        try:
            activation_id = str(uuid.UUID(stored.activation_id))
        except ValueError:
            raise UnexpectedResponseError("the stored activation id is not a UUID") from None
        answer = self._call("DELETE", f"{ACTIVATIONS}/{activation_id}", None)
        if answer.status != 200 or answer.body.get("code") != "DEACTIVATED":
            raise self._unexpected(answer)
        self.state.forget(activation=True)
        return DeactivationResult(
            activation_id=activation_id,
            code="DEACTIVATED",
            server_time=server_time(answer.body),
            request_id=answer.request_id,
        )

    def status(self) -> Status:
        """Offline: is the stored lease valid now? Never contacts the server.

        Valid while the lease verifies against the pinned keys (``aud`` = product,
        ``fpr`` = this fingerprint, ``act`` = the stored activation) and ``exp`` has
        not passed: the grace period that keeps a product working while the server
        cannot be reached.
        """
        return lease_status(
            self.state,
            self.trusted_keys,
            self._stored_activation(),
            product=self.product,
            fingerprint=self.fingerprint,
            issuer=self.issuer,
            now=self._clock(),
        )

    # -- internals -----------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None) -> VerifiedAnswer:
        """A verified answer; a verified problem is raised (after its effect on state)."""
        answer = self._transport.call(method, path, payload)
        if answer.status < 400:
            return answer
        error = LicensingClientError.from_problem(answer.status, answer.body)
        if isinstance(error, NotActivatedError):
            self.state.forget(activation=True)
        elif isinstance(error, LicenseRefusedError) and error.code in DISCARDING_VERDICTS:
            self.state.forget(activation=False)
        raise error

    def _verified_lease(self, token: object, *, activation_id: str | None) -> Lease:
        if not isinstance(token, str):
            raise UnexpectedResponseError("the valid answer carries no lease")
        try:
            lease = verify_lease(
                token,
                self.trusted_keys,
                product=self.product,
                fingerprint=self.fingerprint,
                now=self._clock(),
                issuer=self.issuer,
            )
        except LeaseError as exc:
            raise UnexpectedResponseError(
                f"the server's lease is not usable: {exc.detail}"
            ) from None
        if activation_id is not None and lease.activation_id != activation_id:
            raise UnexpectedResponseError("the lease names another activation")
        return lease

    def _remember_activation(self, lease: Lease, server_name: str) -> None:
        self.state.save_activation(
            StoredActivation(
                activation_id=lease.activation_id,
                key_id=self.key.key_id,
                product=self.product,
                fingerprint=self.fingerprint,
                server_name=server_name,
            )
        )

    def _stored_activation(self) -> StoredActivation | None:
        """The stored activation, if it was made with this key, product and fingerprint."""
        stored = self.state.load_activation()
        if stored is None:
            return None
        if (stored.key_id, stored.product, stored.fingerprint) != (
            self.key.key_id,
            self.product,
            self.fingerprint,
        ):
            return None
        return stored

    def _product_version(self, given: str | None) -> str:
        version = given or self.product_version
        if not version:
            raise ConfigurationError(
                "product_version is required: pass it to InstanceClient or to the call"
            )
        return version

    def _server_name(self, given: str | None) -> str:
        return (given or self.server_name or socket.getfqdn() or "localhost")[:253]

    @staticmethod
    def _unexpected(answer: VerifiedAnswer) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"unexpected verified answer (HTTP {answer.status})",
            status=answer.status,
            request_id=answer.request_id,
            problem=answer.body,
        )
