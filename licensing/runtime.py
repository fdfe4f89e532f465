"""What one application instance holds besides Flask config: settings, keys, caches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import Flask, current_app

from licensing.cache import TTLCache
from licensing.config import Settings
from licensing.crypto.sealing import Sealer
from licensing.crypto.server_keys import SigningKey
from licensing.services.checkin_batches import check_in_group
from licensing.services.checkins import CheckInGroup
from licensing.services.license_state import LicenseState
from licensing.services.replay import DatabaseReplayStore, RedisReplayStore, ReplayStore
from licensing.services.upgrades import ReleaseInfo

EXTENSION_KEY = "licensing"


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sealer: Sealer
    replay: ReplayStore
    licenses: TTLCache[str, LicenseState | None] = field(init=False)
    releases: TTLCache[uuid.UUID, tuple[ReleaseInfo, ...]] = field(init=False)
    signing_key: TTLCache[str, SigningKey] = field(init=False)
    check_ins: CheckInGroup = field(init=False, default_factory=check_in_group)

    def __post_init__(self) -> None:
        ttl = self.settings.cache_ttl
        object.__setattr__(self, "licenses", TTLCache(ttl))
        object.__setattr__(self, "releases", TTLCache(ttl))
        # The signing key changes only on rotation; a minute is soon enough everywhere.
        object.__setattr__(self, "signing_key", TTLCache(max(ttl, 60.0) if ttl else 0.0))


def build(settings: Settings) -> Runtime:
    replay: ReplayStore
    if settings.redis_url:
        replay = RedisReplayStore(settings.redis_url, settings.replay_window)
    else:
        replay = DatabaseReplayStore(settings.replay_window)
    return Runtime(settings=settings, sealer=Sealer(settings.master_key), replay=replay)


def install(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION_KEY] = runtime


def current() -> Runtime:
    """The runtime of the application in context (views, CLI commands)."""
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
