"""What one application instance holds besides Flask config: settings and the sealer."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from licensing.config import Settings
from licensing.crypto.sealing import Sealer

EXTENSION_KEY = "licensing"


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    sealer: Sealer


def install(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION_KEY] = runtime


def current() -> Runtime:
    """The runtime of the application in context (views, CLI commands)."""
    runtime: Runtime = current_app.extensions[EXTENSION_KEY]
    return runtime
