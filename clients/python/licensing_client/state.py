"""The instance's state directory: fingerprint, activation and last lease.

Every write is atomic: a temporary file in the same directory, written, fsynced and
moved over the old one with ``os.replace`` (then the directory is fsynced), so a crash
leaves the old file or the new one, never half of one. Files are mode ``0600``, a
directory this module creates ``0700``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from licensing_client.errors import ConfigurationError, StateError

FINGERPRINT_FILE = "fingerprint"
ACTIVATION_FILE = "activation.json"
LEASE_FILE = "lease.jwt"
FILE_MODE = 0o600
DIR_MODE = 0o700


def valid_fingerprint(value: str) -> bool:
    """16–128 printable ASCII characters (PROTOCOL.md §5)."""
    return 16 <= len(value) <= 128 and value.isascii() and value.isprintable()


@dataclass(frozen=True, slots=True)
class StoredActivation:
    """What the client remembers about its activation (and for which license and product)."""

    activation_id: str
    key_id: str
    product: str
    fingerprint: str
    server_name: str
    activated_at: str | None = None


class StateStore:
    """Files in ``directory``; a missing file means "not there yet"."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the state directory: {exc}") from None
        if not self.directory.is_dir():
            raise ConfigurationError(f"{self.directory} is not a directory")

    # -- fingerprint -------------------------------------------------------------------

    def fingerprint(self) -> str:
        """The stored fingerprint; derived once (32 random hex characters) if absent."""
        existing = self.read_text(FINGERPRINT_FILE)
        if existing is None:
            existing = self.create_once(FINGERPRINT_FILE, secrets.token_hex(16) + "\n")
        value = existing.strip()
        if not valid_fingerprint(value):
            raise StateError(
                f"{self.directory / FINGERPRINT_FILE} does not hold a fingerprint "
                "(16-128 printable ASCII characters); restore it or remove it to become a new "
                "instance"
            )
        return value

    # -- activation --------------------------------------------------------------------

    def load_activation(self) -> StoredActivation | None:
        text = self.read_text(ACTIVATION_FILE)
        if text is None:
            return None
        try:
            data: Any = json.loads(text)
            return StoredActivation(**data)
        except (ValueError, TypeError):
            raise StateError(f"{self.directory / ACTIVATION_FILE} is not readable") from None

    def save_activation(self, activation: StoredActivation) -> None:
        self.write_text(ACTIVATION_FILE, json.dumps(asdict(activation), indent=2) + "\n")

    # -- lease -------------------------------------------------------------------------

    def load_lease(self) -> str | None:
        text = self.read_text(LEASE_FILE)
        if text is None or not text.strip():
            return None
        return text.strip()

    def save_lease(self, token: str) -> None:
        self.write_text(LEASE_FILE, token + "\n")

    def forget(self, *, activation: bool) -> None:
        """Discard the lease (and the activation id, if ``activation``)."""
        self.remove(LEASE_FILE)
        if activation:
            self.remove(ACTIVATION_FILE)

    # -- files -------------------------------------------------------------------------

    def read_text(self, name: str) -> str | None:
        try:
            return (self.directory / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"cannot read {self.directory / name}: {exc}") from None

    def write_text(self, name: str, text: str) -> None:
        """Atomically replace ``name`` with ``text`` (temp file, fsync, ``os.replace``)."""
        with self._temporary(name, text) as temporary:
            os.replace(temporary, self.directory / name)
        self._sync_directory()

    def create_once(self, name: str, text: str) -> str:
        """Write ``name`` only if absent (atomically); return what the file holds."""
        with self._temporary(name, text) as temporary:
            try:
                os.link(temporary, self.directory / name)
            except FileExistsError:
                pass
            except OSError:  # no hard links here: a plain atomic rename
                os.replace(temporary, self.directory / name)
        self._sync_directory()
        return self.read_text(name) or text

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / name).unlink()
            self._sync_directory()

    @contextlib.contextmanager
    def _temporary(self, name: str, text: str) -> Iterator[str]:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            yield temporary
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def _sync_directory(self) -> None:
        if not hasattr(os, "O_DIRECTORY"):
            return
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
