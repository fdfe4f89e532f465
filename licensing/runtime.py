"""What one application instance holds besides Flask config: settings, keys, caches."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from licensing.cache import TTLCache
from licensing.config import Settings
from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.services import server_keys
from licensing.services.instance_calls import InstanceEnv
from licensing.services.license_state import LicenseState, load_releases
from licensing.services.upgrades import ReleaseInfo
from licensing.storage.check_in_batches import check_in_group
from licensing.storage.check_ins import CheckInGroup
from licensing.storage.replay import DatabaseReplayStore, RedisReplayStore, ReplayStore
from licensing.storage.signature_failures import SignatureFailureTally

EXTENSION_KEY = "licensing"


def _check_in_group() -> CheckInGroup:
    """The process's check-in group commit, telling the metrics each batch's size."""
    from licensing import metrics

    return check_in_group(on_batch=metrics.observe_check_in_batch)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sealer: Sealer
    replay: ReplayStore
    licenses: TTLCache[str, LicenseState | None] = field(init=False)
    releases: TTLCache[uuid.UUID, tuple[ReleaseInfo, ...]] = field(init=False)
    signing_keys: TTLCache[str, SigningKey] = field(init=False)
    #: The check-in group commit: PostgreSQL only (SQLite writes one check-in at a time).
    check_ins: CheckInGroup | None = field(init=False, default=None)
    #: What the instance conversations need, built once for the process.
    instance: InstanceEnv = field(init=False)
    redis_probe: Any = field(init=False, default=None)
    #: Invalid signatures per known key id, written in batches (storage/signature_failures).
    signature_failures: SignatureFailureTally = field(init=False)

    def __post_init__(self) -> None:
        ttl = self.settings.cache_ttl
        object.__setattr__(self, "licenses", TTLCache(ttl))
        object.__setattr__(self, "releases", TTLCache(ttl))
        # The signing key changes only on rotation; a minute is soon enough everywhere.
        object.__setattr__(self, "signing_keys", TTLCache(max(ttl, 60.0) if ttl else 0.0))
        if not self.settings.uses_embedded_database:
            object.__setattr__(self, "check_ins", _check_in_group())
        instance = InstanceEnv(
            sealer=self.sealer,
            issuer=self.settings.issuer,
            signing_key=self.signing_key,
            releases=self.product_releases,
            replay=self.replay,
            check_ins=self.check_ins,
        )
        object.__setattr__(self, "instance", instance)
        if self.settings.redis_url:
            object.__setattr__(self, "redis_probe", _redis_probe(self.settings.redis_url))
        tally = SignatureFailureTally(interval=self.settings.signature_failure_flush)
        object.__setattr__(self, "signature_failures", tally)

    def attach_database(self, engine: Engine) -> None:
        """What the process writes outside any request goes to the application's database."""
        self.signature_failures.attach(engine)

    def signing_key(self, session: Session) -> SigningKey:
        """The active server key that signs answers and leases (cached per process)."""
        return self.signing_keys.get(
            "active", lambda: server_keys.signing_key(session, self.sealer)
        )

    def product_releases(self, session: Session, product_id: uuid.UUID) -> tuple[ReleaseInfo, ...]:
        """A product's releases as the verdict compares them (cached per process)."""
        return self.releases.get(product_id, lambda: load_releases(session, product_id))


def build(settings: Settings) -> Runtime:
    replay: ReplayStore
    if settings.redis_url:
        replay = RedisReplayStore(settings.redis_url, settings.replay_window)
    else:
        replay = DatabaseReplayStore(settings.replay_window)
    return Runtime(
        settings=settings, sealer=sealer_for(settings.master_key, settings), replay=replay
    )


def sealer_for(master_key: bytes, settings: Settings, previous: bytes | None = None) -> Sealer:
    """A sealer under ``master_key`` whose keyed-hash keys come from the database."""
    return Sealer(
        master_key,
        previous=previous or settings.master_key_previous,
        stored_hash_keys=_stored_hash_keys,
        previous_key_sealed=_previous_key_sealed,
        period_keys=_store_period_key,
        # Like the signing key: a month's key changes only when destroyed.
        period_key_ttl=max(settings.cache_ttl, 60.0) if settings.cache_ttl else 0.0,
    )


def _stored_hash_keys() -> Mapping[str, bytes]:
    # Read once per process, on the first keyed hash, through the session of the
    # request or command that makes it (a second connection could wait on its lock).
    from licensing.extensions import db
    from licensing.services.master_key import stored_hash_keys

    return stored_hash_keys(db.session())


def _store_period_key(purpose: str, period: str, candidate: bytes) -> tuple[bytes, bool]:
    from licensing.extensions import db
    from licensing.services.hash_key_periods import store_period_key

    return store_period_key(db.session(), purpose, period, candidate)


def _previous_key_sealed(sealer: Sealer) -> bool:
    from licensing.extensions import db
    from licensing.services.master_key import previous_key_sealed

    return previous_key_sealed(db.session(), sealer)


def _redis_probe(url: str) -> Any:
    """A client that only answers readiness probes: a down Redis fails it in a second."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def install(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION_KEY] = runtime


def current() -> Runtime:
    """The runtime of the application in context (views, CLI commands)."""
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
