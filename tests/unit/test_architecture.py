"""The layers of docs/architecture.md, held by import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import licensing

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = Path(licensing.__file__).resolve().parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts over the ``licensing`` package found in ``root``."""
    script = (
        "import sys; from importlinter.cli import lint_imports;"
        " sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    environment = os.environ | {"PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_code_keeps_its_layers() -> None:
    result = _lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout


def test_every_part_of_the_package_has_a_layer() -> None:
    """A new module or package must choose its layer, so no part escapes the rules."""
    (layers,) = (c["layers"] for c in _contracts() if c["type"] == "layers")
    assert isinstance(layers, list)
    named = {
        name.strip().strip("()").removeprefix("licensing.")
        for layer in layers
        for name in layer.replace(":", "|").split("|")
    }
    parts = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert parts - named == set(), "add these to a layer in pyproject.toml"


def test_an_import_against_the_layers_breaks_the_contracts(tmp_path: Path) -> None:
    """The contracts catch a model that reaches up into the services, and Flask below the faces."""
    shutil.copytree(PACKAGE, tmp_path / "licensing", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "licensing" / "models" / "upward.py").write_text(
        "from licensing.services import licenses\n"
    )
    (tmp_path / "licensing" / "services" / "framework.py").write_text("import flask\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "licensing.models is not allowed to import licensing.services" in result.stdout
    assert "licensing.services.framework -> flask" in result.stdout
