"""The instance folder: the embedded database, development keys and the metric files."""

from __future__ import annotations

from pathlib import Path

from licensing.errors import ConfigError

FIX = "set LICENSING_INSTANCE_PATH to a folder this user can write"


def refuse_a_file(path: Path) -> None:
    """An instance path may be missing (it is created when needed), but not a file."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the instance folder {path} is a file: {FIX}")


def instance_folder(path: Path) -> Path:
    """``path``, created if it is missing; one line naming the fix if it cannot hold files."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"the instance folder {path} is a file: {FIX}") from None
    except OSError as exc:
        raise ConfigError(
            f"the instance folder {path} cannot be created ({exc.strerror}): {FIX}"
        ) from None
    import tempfile  # only when a folder is written to

    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"the instance folder {path} is not writable ({exc.strerror}): {FIX}"
        ) from None
    return path
